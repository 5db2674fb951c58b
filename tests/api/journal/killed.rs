//! The real binary as a child process, killed with SIGKILL mid-story and started again: the
//! journal is replayed and the location is answered once.

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{deliveries, entries, llm_called, mocks_with_a_hanging_first_llm_call};
use crate::helpers::{SECRET, eventually, location_update, on_both_databases, test_vars};

on_both_databases!(the_bot_killed_with_sigkill_mid_story_answers_once_after_it_starts_again);

/// The bot running as a child process; killed when dropped.
struct Bot {
    child: Child,
    address: String,
}

impl Bot {
    /// Starts the real binary with `vars` and waits until it is ready.
    async fn start(vars: &HashMap<String, String>) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_excursobot"))
            .env_clear()
            .envs(vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the bot starts");
        let bot = Self {
            child,
            address: format!("http://127.0.0.1:{}", vars["PORT"]),
        };
        let ready = eventually(
            || async {
                let readyz = reqwest::get(format!("{}/readyz", bot.address)).await;
                readyz.is_ok_and(|answer| answer.status() == 200)
            },
            |ready| *ready,
        )
        .await;
        assert!(ready, "the bot did not become ready");
        bot
    }

    async fn post_update(&self, update: &serde_json::Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/webhook", self.address))
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .json(update)
            .send()
            .await
            .expect("webhook answers")
            .status()
            .as_u16()
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the bot is gone");
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}

async fn the_bot_killed_with_sigkill_mid_story_answers_once_after_it_starts_again(url: String) {
    let mocks = mocks_with_a_hanging_first_llm_call().await;
    let port = free_port();
    let vars = test_vars(&mocks, &[("DATABASE_URL", &url), ("PORT", &port)]);
    let bot = Bot::start(&vars).await;
    let location = location_update(1, 9201, "en", 55.7558, 37.6173);
    assert_eq!(bot.post_update(&location).await, 200);
    llm_called(&mocks.openai).await;

    bot.kill();
    let journaled = entries(&url).await;
    let bot = Bot::start(&vars).await;

    assert_eq!(journaled.len(), 1, "the kill left the entry");
    let stories = mocks.telegram.wait_for_stories(9201, 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(stories.len(), 1, "answered after the restart");
    assert_eq!(
        mocks.telegram.stories_to(9201).await.len(),
        1,
        "answered once"
    );
    assert_eq!(deliveries(&url).await, 1, "the place is on record once");
    let left = eventually(|| entries(&url), Vec::is_empty).await;
    assert!(left.is_empty(), "{left:?}");
    drop(bot);
}
