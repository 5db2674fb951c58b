//! The supervisor on a small actor of its own: restarts behind the same address, a stop that
//! stays, the restart metric.

use std::time::Duration;

use actix::{ActorContext, Arbiter};

use super::*;

/// Counts the messages it served; `Boom` panics, `Quit` stops it.
#[derive(Default)]
struct Counter(u32);

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Supervised for Counter {}

#[derive(Message)]
#[rtype(result = "u32")]
struct Count;

#[derive(Message)]
#[rtype(result = "()")]
enum Boom {
    Now,
    Later,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Quit;

impl Handler<Count> for Counter {
    type Result = u32;

    fn handle(&mut self, _: Count, _: &mut Context<Self>) -> u32 {
        self.0 += 1;
        self.0
    }
}

impl Handler<Boom> for Counter {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, boom: Boom, ctx: &mut Context<Self>) -> Self::Result {
        match boom {
            Boom::Now => panic!("boom now"),
            Boom::Later => contained(ctx, async { panic!("boom later") }),
        }
    }
}

crate::answers_probes!(Counter);

impl Handler<Quit> for Counter {
    type Result = ();

    fn handle(&mut self, _: Quit, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

fn started() -> (Supervision, Arbiter, Addr<Counter>) {
    let supervision = Supervision::new(RestartLimits::default());
    let arbiter = Arbiter::new();
    let counter = supervision.start_in_arbiter(&arbiter.handle(), "counter", |_| Counter(0));
    (supervision, arbiter, counter)
}

async fn state_becomes(supervision: &Supervision, state: ActorState) -> ActorReport {
    for _ in 0..200 {
        let report = supervision.report().remove(0);
        if report.state == state {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    supervision.report().remove(0)
}

#[actix_rt::test]
async fn a_panic_in_the_body_or_the_returned_future_restarts_behind_the_same_address() {
    let (supervision, _arbiter, counter) = started();
    assert_eq!(counter.send(Count).await.unwrap(), 1);

    assert!(counter.send(Boom::Now).await.is_err(), "the answer went");
    assert!(counter.send(Boom::Later).await.is_err(), "the answer went");

    // The actor value is kept: its count goes on.
    assert_eq!(counter.send(Count).await.unwrap(), 2);
    // The returned future's panic reaches the context a moment after its task ended.
    for _ in 0..200 {
        if supervision.report()[0].restarts == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = supervision.report().remove(0);
    assert_eq!((report.name, report.restarts), ("counter", 2));
    assert_eq!(report.state, ActorState::Running);
    assert_eq!(counter.send(Count).await.unwrap(), 3);
}

/// The counters incremented through it, as `name{label=value}` and amount.
#[derive(Default)]
struct Counted(Arc<Mutex<Vec<(String, u64)>>>);

struct Increments(String, Arc<Mutex<Vec<(String, u64)>>>);

impl metrics::CounterFn for Increments {
    fn increment(&self, value: u64) {
        lock(&self.1).push((self.0.clone(), value));
    }

    fn absolute(&self, _: u64) {}
}

impl metrics::Recorder for Counted {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        metrics::Counter::from_arc(Arc::new(Increments(name, Arc::clone(&self.0))))
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[test]
fn each_restart_counts_in_the_restart_metric_of_its_actor() {
    let (counted, supervision) = (
        Counted::default(),
        Supervision::new(RestartLimits::default()),
    );
    let record = ActorRecord::new("cache");

    metrics::with_local_recorder(&counted, || {
        supervision.inner.restarted(&record, "boom");
        supervision.inner.restarted(&record, "boom");
    });

    let seen = lock(&counted.0).clone();
    let key = "excursobot_actor_restarts_total{actor=cache}".to_owned();
    assert_eq!(seen, [(key.clone(), 1), (key, 1)]);
}

#[actix_rt::test]
async fn an_actor_that_stops_on_purpose_stays_stopped_and_is_reported_so() {
    let (supervision, _arbiter, counter) = started();
    counter.send(Quit).await.unwrap();
    let report = state_becomes(&supervision, ActorState::Stopped).await;
    assert_eq!((report.state, report.restarts), (ActorState::Stopped, 0));
    assert!(counter.send(Count).await.is_err(), "not restarted");
}
