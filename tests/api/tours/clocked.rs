//! The tours actor on tokio's paused clock (no real sleeping), with the stub guide: ticks,
//! batches, the cap, numbering, heading cues, restore after a restart, and a mailbox that
//! keeps moving while every LLM permit hangs. Endings are in `endings`.

use std::time::Duration;

use excursobot::{
    actors::{
        live_sessions::{SetInterval, Shutdown, StartOutcome, Stop},
        openai_gate::Priority,
    },
    facts::tour::HeadingCue,
    tour::SessionStore,
};

use super::{
    rig::{
        MIN, Rig, SEC, at, moved, pass, seconds, settings, start, start_at, start_home, stats, stay,
    },
    stub::Mode,
};

#[actix_rt::test]
async fn ticks_come_at_the_chosen_interval_and_follow_a_new_one() {
    let rig = Rig::start();
    assert_eq!(
        start(&rig, 1, 10).await,
        StartOutcome::Started { interval: 10 * MIN }
    );

    for minute in 1..=25 {
        pass(MIN).await;
        let point = at(100.0 * f64::from(minute), 10.0);
        rig.tours.do_send(moved(&rig, 1, point, None));
    }
    assert!(
        rig.tours
            .send(SetInterval {
                user_id: 1,
                interval: 5 * MIN
            })
            .await
            .unwrap()
    );
    pass(11 * MIN).await;

    let asked = rig.asked(1);
    assert_eq!(seconds(&asked), [0, 600, 1200, 1800, 2100]);
    assert_eq!(asked[0].priority, Priority::Interactive);
    assert!(asked[1..].iter().all(|a| a.priority == Priority::Live));
    // The walk stopped at 25 minutes: the tick at 35 only looks for a nearer place.
    assert_eq!(rig.numbers_told(1), [1, 2, 3, 4]);
    assert!(asked[4].nearer_than.is_some());
}

#[actix_rt::test]
async fn a_hundred_edits_from_ten_users_are_applied_in_at_most_twenty_batches() {
    let rig = Rig::start();
    for user in 1..=10 {
        start(&rig, user, 10).await;
    }

    for step in 1..=10 {
        for user in 1..=10 {
            let point = at(20.0 * f64::from(step), 10.0 * user as f64);
            rig.tours.do_send(moved(&rig, user, point, None));
        }
    }
    let snapshot = stats(&rig).await;
    pass(2 * SEC).await;

    assert_eq!(snapshot.updates_received, 100);
    let batches = stats(&rig).await.batches_applied;
    assert!((1..=20).contains(&batches), "{batches} batches");
    let stored = rig.store.load_all().await.unwrap();
    assert_eq!(stored.len(), 10);
    for session in stored {
        assert_eq!(session.position, at(200.0, 10.0 * session.user_id as f64));
    }
    for user in 1..=10 {
        rig.tours.send(Stop { user_id: user }).await.unwrap();
    }
    pass(SEC).await;
    for user in 1..=10 {
        let (ended, _) = rig.ending(user).unwrap();
        assert!((ended.summary.distance_m - 200.0).abs() < 1.0, "{ended:?}");
    }
}

#[actix_rt::test]
async fn a_lone_update_waits_at_most_the_flush_delay() {
    let rig = Rig::start();
    start(&rig, 1, 10).await;

    rig.tours.do_send(moved(&rig, 1, at(80.0, 10.0), None));
    pass(Duration::from_millis(900)).await;
    let early = rig.store.load_all().await.unwrap()[0].position;
    pass(Duration::from_millis(200)).await;
    let late = rig.store.load_all().await.unwrap()[0].position;

    assert_eq!(early, at(0.0, 10.0));
    assert_eq!(late, at(80.0, 10.0));
    assert_eq!(stats(&rig).await.batches_applied, 1);
}

#[actix_rt::test]
async fn past_the_cap_a_tour_is_refused_until_one_ends() {
    let rig = Rig::capped(3);
    for user in 1..=3 {
        assert!(matches!(
            start(&rig, user, 10).await,
            StartOutcome::Started { .. }
        ));
    }

    assert_eq!(
        start(&rig, 4, 10).await,
        StartOutcome::Full { active: 3, cap: 3 }
    );
    assert_eq!(start(&rig, 1, 10).await, StartOutcome::Refreshed);
    rig.tours.send(Stop { user_id: 2 }).await.unwrap();
    assert!(matches!(
        start(&rig, 4, 10).await,
        StartOutcome::Started { .. }
    ));
    let snapshot = stats(&rig).await;
    assert_eq!((snapshot.active, snapshot.cap), (3, 3));
}

#[actix_rt::test]
async fn a_story_longer_than_the_interval_skips_ticks_instead_of_piling_up() {
    let rig = Rig::start();
    rig.world().mode = Mode::Slow(3 * MIN);
    start(&rig, 1, 2).await;

    for minute in 1..=13 {
        pass(MIN).await;
        let point = at(100.0 * f64::from(minute), 10.0);
        rig.tours.do_send(moved(&rig, 1, point, None));
    }

    assert_eq!(seconds(&rig.asked(1)), [0, 240, 480, 720]);
    assert_eq!(rig.numbers_told(1), [1, 2, 3]);
    let told_at: Vec<u64> = rig.world().told.iter().map(|t| t.at.as_secs()).collect();
    assert_eq!(told_at, [180, 420, 660]);
}

#[actix_rt::test]
async fn numbers_are_used_only_by_stories_that_were_sent() {
    let rig = Rig::start();
    start_home(&rig).await;
    pass(SEC).await;
    stay(&rig, 1, at(0.0, 0.0), 10).await; // not moved, nothing nearer: skipped
    rig.world().script.push_back(Mode::Busy);
    stay(&rig, 1, at(200.0, 0.0), 10).await; // moved, but the gate is full: next tick
    stay(&rig, 1, at(200.0, 0.0), 10).await; // told
    stay(&rig, 1, at(200.0, 0.0), 5).await;
    let new_place = ("a new kiosk".to_owned(), at(200.0, 5.0));
    rig.world().places.push(new_place);
    stay(&rig, 1, at(200.0, 0.0), 5).await; // not moved, but a nearer untold place appeared

    assert_eq!(rig.numbers_told(1), [1, 2, 3]);
    let asked = rig.asked(1);
    let numbers: Vec<u32> = asked.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 2, 2, 3]);
    assert!(
        asked[1]
            .nearer_than
            .is_some_and(|m| (m - 40.0).abs() < 0.01)
    );
    assert_eq!(asked[2].nearer_than, None);
    assert_eq!(rig.world().told[2].place, "a new kiosk");
    rig.tours.send(Stop { user_id: 1 }).await.unwrap();
    pass(SEC).await;
    assert_eq!(rig.ending(1).unwrap().0.summary.stories, 3);
}

#[actix_rt::test]
async fn the_story_says_where_to_look_from_the_latest_heading() {
    let rig = Rig::start();
    let places = [
        ("A", at(40.0, 0.0)),
        ("B", at(160.0, 0.0)),
        ("C", at(300.0, 0.0)),
        ("D", at(400.0, 160.0)),
    ];
    rig.world().places = places.map(|(id, p)| (id.to_owned(), p)).to_vec();
    let mut message = start_at(&rig, 1, at(0.0, 0.0), 10);
    message.fix.heading = Some(90);
    rig.tours.send(message).await.unwrap();

    pass(5 * MIN).await;
    rig.tours.do_send(moved(&rig, 1, at(60.0, 0.0), Some(0)));
    pass(10 * MIN).await;
    rig.tours.do_send(moved(&rig, 1, at(400.0, 0.0), Some(0)));
    pass(10 * MIN).await;
    rig.tours
        .do_send(moved(&rig, 1, at(400.0, 60.0), Some(360)));
    pass(5 * MIN + SEC).await;

    use HeadingCue::{Ahead, Behind, Left, Right};
    let world = rig.world();
    let cues: Vec<(&str, Option<HeadingCue>)> = world
        .told
        .iter()
        .map(|t| (t.place.as_str(), t.cue))
        .collect();
    let expected = [("A", Left), ("B", Ahead), ("C", Behind), ("D", Right)];
    assert_eq!(cues, expected.map(|(place, cue)| (place, Some(cue))));
    assert_eq!(world.asked[3].heading, Some(360));
}

#[actix_rt::test]
async fn a_tour_goes_on_after_a_restart_in_its_middle() {
    let first = Rig::start();
    let (store, clock) = (first.store.clone(), first.clock);
    start(&first, 1, 10).await;
    pass(4 * MIN).await;
    first.tours.do_send(moved(&first, 1, at(100.0, 10.0), None));
    pass(2 * SEC).await;

    first.tours.send(Shutdown).await.unwrap();
    let second = Rig::start_with(settings(50), store.clone(), clock);
    pass(5 * MIN).await;
    assert!(
        second.asked(1).is_empty(),
        "the next tick is still due at 10 minutes"
    );
    pass(2 * MIN).await;

    assert_eq!(stats(&second).await.active, 1);
    let asked = second.asked(1);
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].number, asked[0].priority), (2, Priority::Live));
    let due = 10 * MIN - (4 * MIN + 2 * SEC);
    assert!(asked[0].at.abs_diff(due) < SEC, "{:?}", asked[0].at);
    assert_eq!(
        first.asked(1).len(),
        1,
        "the old instance tells nothing more"
    );
    second.tours.send(Stop { user_id: 1 }).await.unwrap();
    pass(SEC).await;
    let (ended, _) = second.ending(1).unwrap();
    assert_eq!(ended.summary.stories, 2);
    assert!((ended.summary.distance_m - 100.0).abs() < 1.0);
}

#[actix_rt::test]
async fn a_story_being_sent_at_shutdown_keeps_its_number_after_the_restart() {
    let first = Rig::start();
    let (store, clock) = (first.store.clone(), first.clock);
    start(&first, 1, 10).await;
    first.world().script.push_back(Mode::Sending(2 * SEC));
    stay(&first, 1, at(100.0, 10.0), 10).await; // the tick at 10 minutes starts story #2

    first.tours.send(Shutdown).await.unwrap();
    let second = Rig::start_with(settings(50), store, clock);
    stay(&second, 1, at(200.0, 10.0), 10).await;

    assert_eq!(first.numbers_told(1), [1, 2]);
    let asked = second.asked(1);
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].number, 3,
        "#2 was sent while shutting down, and counted"
    );
}

#[actix_rt::test]
async fn the_actor_answers_at_once_while_every_llm_permit_hangs() {
    let rig = Rig::start();
    rig.world().mode = Mode::Hang;
    for user in 1..=5 {
        start(&rig, user, 10).await;
    }
    pass(SEC).await;
    assert_eq!(
        stats(&rig).await.stories_in_flight,
        3,
        "two found the gate full"
    );

    for round in 1..=9 {
        pass(5 * MIN).await;
        for user in 1..=5 {
            let point = at(60.0 * f64::from(round), 10.0 * user as f64);
            rig.tours.do_send(moved(&rig, user, point, None));
        }
        let answered = tokio::time::timeout(Duration::from_millis(50), stats(&rig)).await;
        assert!(answered.is_ok(), "the mailbox must keep moving");
    }
    let quick = tokio::time::timeout(Duration::from_millis(50), start(&rig, 6, 10)).await;
    assert!(matches!(quick, Ok(StartOutcome::Started { .. })));
    // The ticks at 50 minutes (kept 2 s apart, tours having started together): three calls
    // hang again.
    pass(5 * MIN + 10 * SEC).await;
    assert!(stats(&rig).await.stories_in_flight >= 3);
    for user in 1..=6 {
        let stop = rig.tours.send(Stop { user_id: user });
        let stopped = tokio::time::timeout(Duration::from_millis(50), stop).await;
        assert!(stopped.unwrap().unwrap(), "user {user}");
    }
    pass(SEC).await;

    assert!(rig.world().told.is_empty());
    for user in 1..=5 {
        let (ended, _) = rig
            .ending(user)
            .expect("a summary once the hanging call is cancelled");
        assert_eq!(ended.summary.stories, 0);
        let asked = rig.asked(user);
        assert!(asked.len() <= 6, "user {user}: {:?}", seconds(&asked));
        assert!(
            asked.iter().all(|a| a.number == 1),
            "no story was sent, no number used"
        );
    }
}

#[actix_rt::test]
async fn ticks_of_tours_started_together_are_spread_out() {
    let rig = Rig::start();
    // A tenth of the 5-minute interval holds 16 slots 2 s apart; past that, ticks share the
    // LLM's queue.
    for user in 1..=16 {
        start(&rig, user, 5).await;
    }
    pass(5 * MIN + MIN).await;

    let mut ticks: Vec<Duration> = (1..=16)
        .map(|user| {
            let asked = rig.asked(user);
            assert_eq!(asked.len(), 2, "user {user}: the first story and one tick");
            asked[1].at
        })
        .collect();
    ticks.sort();
    let gaps: Vec<Duration> = ticks.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(
        gaps.iter().all(|gap| *gap >= 2 * SEC),
        "ticks kept 2 s apart: {gaps:?}"
    );
    // Within a tenth of the interval (30 s) of the chosen one.
    assert!(
        ticks[0] >= 5 * MIN && ticks[15] < 5 * MIN + 31 * SEC,
        "{ticks:?}"
    );
}

#[actix_rt::test]
async fn a_walker_who_moves_on_after_the_story_was_written_ahead_has_it_written_again() {
    let rig = Rig::start();
    start(&rig, 1, 10).await;
    for minute in 1..=9 {
        pass(MIN).await;
        let point = at(100.0 * f64::from(minute), 10.0);
        rig.tours.do_send(moved(&rig, 1, point, None));
    }
    // The tick is at 10 min; its story is written ahead at 9:30, from where the walker was.
    pass(40 * SEC).await;
    assert_eq!(rig.aheads(1), [at(900.0, 10.0)]);

    // A new fix 100 m on before the tick: the place it tells may be another one now.
    rig.tours.do_send(moved(&rig, 1, at(1000.0, 10.0), None));
    pass(2 * SEC).await;
    assert_eq!(rig.aheads(1), [at(900.0, 10.0), at(1000.0, 10.0)]);

    // A few metres more (a fix's jitter) write nothing again.
    rig.tours.do_send(moved(&rig, 1, at(1010.0, 10.0), None));
    pass(2 * SEC).await;
    assert_eq!(rig.aheads(1).len(), 2);
}
