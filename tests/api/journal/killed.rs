//! The real binary as a child process, killed with SIGKILL mid-story and started again: the
//! journal is replayed and the location is answered once.

use std::time::Duration;

use super::{deliveries, entries, llm_called, mocks_with_a_hanging_first_llm_call};
use crate::helpers::{
    bot_process::{BotProcess as Bot, free_port},
    eventually, location_update, on_both_databases, test_vars,
};

on_both_databases!(the_bot_killed_with_sigkill_mid_story_answers_once_after_it_starts_again);

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
