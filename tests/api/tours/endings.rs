//! Every way a tour ends, on tokio's paused clock: sharing stopped, expiry, inactivity,
//! `/stop`; writing time is not inactivity; nothing is sent after the end.

use excursobot::{actors::live_sessions::Stop, tour::EndReason};

use super::{
    rig::{MIN, Rig, SEC, at, moved, pass, start, start_at, stats, stay},
    stub::Mode,
};

#[actix_rt::test]
async fn an_edit_without_live_period_ends_the_tour_at_once_with_a_summary() {
    let rig = Rig::start();
    start(&rig, 1, 10).await;
    pass(3 * MIN).await;
    rig.tours.do_send(moved(&rig, 1, at(120.0, 10.0), None));

    let mut last = moved(&rig, 1, at(150.0, 10.0), None);
    last.sharing = false;
    rig.tours.do_send(last);
    pass(SEC).await;

    let (ended, when) = rig.ending(1).unwrap();
    assert_eq!(ended.reason, EndReason::SharingStopped);
    assert_eq!(when.as_secs(), 180);
    assert_eq!(ended.summary.stories, 1);
    assert!((ended.summary.distance_m - 150.0).abs() < 1.0);
    assert_eq!(ended.summary.duration.as_secs(), 180);
    pass(30 * MIN).await;
    assert_eq!(rig.asked(1).len(), 1, "no ticks after the end");
    assert_eq!(stats(&rig).await.active, 0);
}

#[actix_rt::test]
async fn a_live_period_that_runs_out_ends_the_tour_on_our_own_timer() {
    let rig = Rig::start();
    let mut message = start_at(&rig, 1, at(0.0, 0.0), 10);
    message.live_period_secs = Some(30 * 60);
    rig.tours.send(message).await.unwrap();

    for minute in 1..=40 {
        pass(MIN).await;
        rig.tours
            .do_send(moved(&rig, 1, at(10.0 * f64::from(minute), 0.0), None));
    }

    let (ended, when) = rig.ending(1).unwrap();
    assert_eq!(ended.reason, EndReason::Expired);
    assert!((29 * 60..=30 * 60).contains(&when.as_secs()), "{when:?}");
}

#[actix_rt::test]
async fn no_update_for_fifteen_minutes_or_interval_plus_ten_ends_the_tour() {
    let rig = Rig::start();
    start(&rig, 1, 5).await;
    start(&rig, 2, 60).await;

    pass(15 * MIN - SEC).await;
    assert!(rig.ending(1).is_none());
    pass(2 * SEC).await;
    assert_eq!(rig.ending(1).unwrap().0.reason, EndReason::Inactive);
    pass(55 * MIN - 2 * SEC).await;
    assert!(
        rig.ending(2).is_none(),
        "an hour's interval allows 70 minutes"
    );
    pass(2 * SEC).await;
    assert_eq!(rig.ending(2).unwrap().0.reason, EndReason::Inactive);
}

#[actix_rt::test]
async fn stop_ends_the_tour_and_a_second_stop_finds_none() {
    let rig = Rig::start();
    start(&rig, 1, 10).await;
    pass(MIN).await;

    assert!(rig.tours.send(Stop { user_id: 1 }).await.unwrap());
    assert!(!rig.tours.send(Stop { user_id: 1 }).await.unwrap());
    pass(SEC).await;

    let (ended, _) = rig.ending(1).unwrap();
    assert_eq!(ended.reason, EndReason::Command);
    assert_eq!(ended.summary.stories, 1);
}

#[actix_rt::test]
async fn time_spent_writing_a_story_is_not_inactivity() {
    let rig = Rig::start();
    rig.world().script.push_back(Mode::Slow(3 * MIN));
    start(&rig, 1, 30).await;

    pass(42 * MIN).await;
    assert!(
        rig.ending(1).is_none(),
        "40 idle minutes, not counting 3 of writing"
    );
    pass(2 * MIN).await;

    let (ended, when) = rig.ending(1).unwrap();
    assert_eq!(ended.reason, EndReason::Inactive);
    assert_eq!(when.as_secs(), 43 * 60);
    assert_eq!(rig.numbers_told(1), [1]);
}

#[actix_rt::test]
async fn a_story_slower_than_its_deadline_is_dropped_but_the_tour_goes_on() {
    let rig = Rig::start();
    rig.world().mode = Mode::Slow(6 * MIN);
    start(&rig, 1, 5).await;

    stay(&rig, 1, at(0.0, 10.0), 30).await;

    assert!(
        rig.world().told.is_empty(),
        "nothing is sent after its deadline"
    );
    assert_eq!(stats(&rig).await.active, 1);
    assert!(rig.ending(1).is_none());
}

#[actix_rt::test]
async fn a_story_still_being_written_when_the_tour_ends_is_never_sent() {
    let rig = Rig::start();
    rig.world().script.push_back(Mode::Slow(3 * MIN));
    start(&rig, 1, 10).await;

    pass(2 * MIN).await;
    rig.tours.send(Stop { user_id: 1 }).await.unwrap();
    pass(10 * MIN).await;

    assert!(rig.world().told.is_empty());
    let (ended, when) = rig.ending(1).unwrap();
    assert_eq!(ended.summary.stories, 0);
    assert_eq!(
        when.as_secs(),
        120,
        "the summary does not wait for the slow story"
    );
}
