//! Words about stories that every layer shares: where a story's text came from.

/// Where a story came from (for statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorySource {
    /// The fact cache.
    Cache,
    /// A fresh LLM call.
    Llm,
    /// The place's own summary.
    Fallback,
}

impl StorySource {
    /// Every source.
    pub const ALL: [StorySource; 3] = [Self::Cache, Self::Llm, Self::Fallback];

    /// The name stored in `fact_deliveries.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorySource::Cache => "cache",
            StorySource::Llm => "llm",
            StorySource::Fallback => "fallback",
        }
    }
}
