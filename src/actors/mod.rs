//! The supervised actix actors: each owns one piece of shared state and is reached through
//! its `Addr`, so a slow LLM call or a slow Redis never holds up an update.

pub mod db_actor;
pub mod fact_cache;
pub mod live_sessions;
pub mod openai_gate;
pub mod supervision;
