//! The send queue's order, pauses and bounds, against real limiters and the real clock
//! (governor keeps its own clock, so tokio's paused clock does not apply).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{Quota, RateLimiter};
use teloxide::types::ChatId;
use tokio::{sync::mpsc, time::Instant};

use super::{
    SendClass, global_quota,
    queue::{Caps, Limiters, Refusal, SendQueue},
};

fn per_second(n: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(n).unwrap())
}

/// A queue whose bot-wide limiter lets `global_per_sec` turns go a second, one at a time,
/// and whose chats may each have a burst of 10.
fn queue(global_per_sec: u32, caps: Caps) -> Arc<SendQueue> {
    let per_chat = per_second(10).allow_burst(NonZeroU32::new(10).unwrap());
    let global = per_second(global_per_sec).allow_burst(NonZeroU32::MIN);
    let limiters = Limiters {
        per_chat: RateLimiter::keyed(per_chat),
        global: RateLimiter::direct(global),
        lower: RateLimiter::direct(per_second(global_per_sec)),
    };
    let queue = SendQueue::new(limiters, caps);
    tokio::spawn(Arc::clone(&queue).schedule());
    queue
}

/// A turn for `chat`, granted.
async fn take(queue: &Arc<SendQueue>, chat: i64, class: SendClass) -> super::queue::Turn {
    let pending = queue.enqueue(ChatId(chat), class, soon());
    pending.granted().await.expect("granted")
}

const ROOMY: Caps = Caps {
    per_chat: 100,
    total: 1000,
};

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// Asks for a turn and, once granted, reports `label` and gives the turn back.
fn ask(
    queue: &Arc<SendQueue>,
    chat: i64,
    class: SendClass,
    label: &'static str,
    order: &mpsc::UnboundedSender<&'static str>,
) -> tokio::task::JoinHandle<Result<(), Refusal>> {
    let pending = queue.enqueue(ChatId(chat), class, soon());
    let order = order.clone();
    tokio::spawn(async move {
        let turn = pending.granted().await?;
        order.send(label).unwrap();
        drop(turn);
        Ok(())
    })
}

async fn collect(order: &mut mpsc::UnboundedReceiver<&'static str>, n: usize) -> Vec<&'static str> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), order.recv()).await;
        seen.push(next.expect("granted in time").unwrap());
    }
    seen
}

#[tokio::test]
async fn a_reply_overtakes_a_queue_of_story_parts() {
    let queue = queue(20, ROOMY);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stories = ["s1", "s2", "s3", "s4", "s5", "s6"];
    for (chat, label) in stories.iter().enumerate() {
        ask(&queue, chat as i64 + 1, SendClass::Story, label, &tx);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    ask(&queue, 100, SendClass::Reply, "start", &tx);

    let order = collect(&mut rx, 7).await;

    let at = order.iter().position(|label| *label == "start").unwrap();
    assert!(at <= 2, "the reply went out {at}th: {order:?}");
    let rest: Vec<_> = order.iter().filter(|l| **l != "start").copied().collect();
    assert_eq!(rest, stories, "stories first come first served");
}

#[tokio::test]
async fn a_chats_messages_of_one_class_keep_their_order_one_at_a_time() {
    let queue = queue(1000, ROOMY);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = queue.enqueue(ChatId(7), SendClass::Story, soon());
    let second = ask(&queue, 7, SendClass::Story, "second", &tx);
    let other_chat = ask(&queue, 8, SendClass::Story, "other chat", &tx);

    let turn = first.granted().await.unwrap();
    assert_eq!(collect(&mut rx, 1).await, ["other chat"]);
    assert!(!second.is_finished(), "the chat's next waits for its turn");
    drop(turn);
    assert_eq!(second.await.unwrap(), Ok(()));
    other_chat.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_429_pauses_everything_then_resumes_in_priority_order() {
    let queue = queue(1000, ROOMY);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = queue.enqueue(ChatId(1), SendClass::Story, soon());
    let turn = first.granted().await.unwrap();
    ask(&queue, 2, SendClass::Other, "other", &tx);
    ask(&queue, 3, SendClass::Story, "story", &tx);

    let paused_at = Instant::now();
    let again = turn.retry_after(Duration::from_millis(400));
    ask(&queue, 4, SendClass::Reply, "reply", &tx);
    assert!(queue.snapshot().paused);
    let retried = tokio::spawn(async move {
        let turn = again.granted().await.unwrap();
        tx.send("retried").unwrap();
        drop(turn);
    });

    let first_after = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        paused_at.elapsed() >= Duration::from_millis(390),
        "{:?}",
        paused_at.elapsed()
    );
    assert_eq!(first_after, "reply");
    let mut rest = vec![];
    while let Ok(Some(label)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        rest.push(label);
    }
    retried.await.unwrap();
    assert_eq!(
        rest,
        ["retried", "story", "other"],
        "priority, then arrival"
    );
}

#[tokio::test]
async fn a_pause_longer_than_a_messages_patience_refuses_it_at_once() {
    let queue = queue(1000, ROOMY);
    let turn = take(&queue, 1, SendClass::Story).await;
    let impatient = queue.enqueue(
        ChatId(2),
        SendClass::FirstAnswer,
        Instant::now() + Duration::from_secs(2),
    );

    let asked = Instant::now();
    let again = turn.retry_after(Duration::from_secs(60));

    assert_eq!(impatient.granted().await.err(), Some(Refusal::Expired));
    assert_eq!(again.granted().await.err(), Some(Refusal::Expired));
    assert!(asked.elapsed() < Duration::from_secs(1));
    let late = queue.enqueue(ChatId(3), SendClass::Reply, soon());
    assert_eq!(late.granted().await.err(), Some(Refusal::Expired));
}

#[tokio::test]
async fn past_the_caps_the_lowest_class_is_dropped_first() {
    let caps = Caps {
        per_chat: 2,
        total: 3,
    };
    let queue = queue(1000, caps);
    // Hold chat 1 busy so its line fills up.
    let busy = take(&queue, 1, SendClass::Reply).await;
    let other = queue.enqueue(ChatId(1), SendClass::Other, soon());
    let story = queue.enqueue(ChatId(1), SendClass::Story, soon());
    let reply = queue.enqueue(ChatId(1), SendClass::Reply, soon());
    assert_eq!(
        other.granted().await.err(),
        Some(Refusal::Dropped),
        "lowest goes"
    );
    let refused = queue.enqueue(ChatId(1), SendClass::Other, soon());
    assert_eq!(
        refused.granted().await.err(),
        Some(Refusal::Dropped),
        "the incoming lowest"
    );
    assert_eq!(queue.snapshot().waiting, [1, 0, 1, 0]);

    // The whole queue: chat 2 has room, the queue does not.
    let _third = queue.enqueue(ChatId(2), SendClass::Story, soon());
    let urgent = queue.enqueue(ChatId(2), SendClass::Reply, soon());
    assert_eq!(queue.snapshot().dropped, [0, 0, 1, 2]);
    drop(busy);
    assert!(reply.granted().await.is_ok());
    assert!(urgent.granted().await.is_ok());
    drop(story);
}

#[tokio::test]
async fn typing_has_room_only_when_nothing_waits() {
    let queue = queue(1000, ROOMY);
    assert!(queue.has_room(ChatId(1)));
    let turn = take(&queue, 1, SendClass::Story).await;
    assert!(!queue.has_room(ChatId(1)), "a message of this chat is out");
    assert!(queue.has_room(ChatId(2)));
    let waiting = queue.enqueue(ChatId(1), SendClass::Story, soon());
    assert!(!queue.has_room(ChatId(2)), "a message waits");
    drop(turn);
    drop(waiting.granted().await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(queue.has_room(ChatId(2)));
}

#[tokio::test]
async fn a_sender_that_gives_up_frees_its_chat() {
    let queue = queue(1000, ROOMY);
    let turn = take(&queue, 1, SendClass::Story).await;
    let gave_up = queue.enqueue(ChatId(1), SendClass::Story, soon());
    drop(gave_up);
    drop(turn);

    let next = queue.enqueue(ChatId(1), SendClass::Story, soon());
    let granted = tokio::time::timeout(Duration::from_secs(2), next.granted()).await;
    assert!(granted.unwrap().is_ok());
}

#[test]
fn the_bot_wide_quota_never_lets_more_than_the_limit_go_in_a_second() {
    for limit in [30_u32, 10, 2] {
        let limiter = RateLimiter::direct_with_clock(
            global_quota(limit),
            governor::clock::FakeRelativeClock::default(),
        );
        let clock = limiter.clock().clone();
        let mut sent = Vec::new();
        for millis in 0..3000 {
            while limiter.check().is_ok() {
                sent.push(millis);
            }
            clock.advance(Duration::from_millis(1));
        }
        let worst = (0..2000)
            .map(|start| {
                sent.iter()
                    .filter(|&&at| at >= start && at < start + 1000)
                    .count()
            })
            .max()
            .unwrap();
        assert!(
            worst <= limit as usize,
            "limit {limit}: {worst} in one second"
        );
        assert!(
            worst >= limit as usize * 8 / 10,
            "limit {limit}: only {worst}"
        );
    }
}

#[tokio::test]
async fn while_stories_stream_out_at_the_limit_a_reply_still_goes_at_once() {
    let limiters = Limiters {
        per_chat: RateLimiter::keyed(per_second(1).allow_burst(NonZeroU32::new(3).unwrap())),
        global: RateLimiter::direct(global_quota(30)),
        lower: RateLimiter::direct(super::lower_quota(30)),
    };
    let queue = SendQueue::new(limiters, ROOMY);
    tokio::spawn(Arc::clone(&queue).schedule());
    let (tx, _rx) = mpsc::unbounded_channel();
    for chat in 0..60 {
        ask(&queue, chat, SendClass::FirstAnswer, "story", &tx);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;

    let mut waits = Vec::new();
    for chat in 0..5 {
        let asked = Instant::now();
        take(&queue, 1000 + chat, SendClass::Reply).await;
        waits.push(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    let worst = waits.iter().max().unwrap();
    assert!(*worst < Duration::from_millis(20), "{waits:?}");
    assert!(
        queue.snapshot().waiting[1] > 0,
        "the stories were still streaming"
    );
}

#[tokio::test]
async fn a_draft_goes_only_when_nothing_waits_and_the_pace_has_a_token_free() {
    // Two turns a second, one at a time: the first draft takes the token, the next must not
    // wait for the one after (it is skipped), and none goes while a message waits or is out.
    let queue = queue(2, ROOMY);
    assert!(queue.try_now(ChatId(1)), "an idle budget lets a draft go");
    assert!(
        !queue.try_now(ChatId(2)),
        "a draft never waits for the next token"
    );
    // The bot-wide token comes back in 500 ms: until then this message waits its turn.
    let waiting = queue.enqueue(ChatId(3), SendClass::Story, soon());
    assert!(
        !queue.try_now(ChatId(2)),
        "no draft while any message waits for its turn"
    );
    let turn = waiting.granted().await.expect("granted");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !queue.try_now(ChatId(3)),
        "no draft while the chat's own message is out"
    );
    drop(turn);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(queue.try_now(ChatId(2)), "the budget has room again");
}
