//! The bodies of `--flood hostile`: what a fuzzer holding the webhook secret sends. Each is
//! built once and sent over and over: real updates with bytes flipped (unreadable), updates
//! grown to just under the 1 MiB limit (a long text, a huge array in an unknown field, tens
//! of thousands of entities), deep nesting, and bodies over the limit (413).

use serde_json::{Value, json};

use super::{
    mutate::Mutator,
    updates::{self, Sender},
};

/// Just under the webhook's body limit.
const NEAR_LIMIT: usize = crate::handlers::webhook::MAX_BODY_BYTES - 4 * 1024;
/// Mutated copies of each real update.
const MUTANTS: usize = 6;

/// Every hostile body, in the order a connection cycles through them.
pub fn bodies() -> Vec<Vec<u8>> {
    let mut bodies = mutants();
    bodies.push(long_text().to_string().into_bytes());
    bodies.push(huge_unknown_array());
    bodies.push(many_entities().to_string().into_bytes());
    bodies.push(nested(100_000));
    bodies.push(vec![b' '; crate::handlers::webhook::MAX_BODY_BYTES + 1]);
    bodies
}

fn sender() -> Sender<'static> {
    Sender {
        user_id: 66_000,
        language: "en",
    }
}

/// Real updates with a few bytes changed at pseudo-random places.
fn mutants() -> Vec<Vec<u8>> {
    let originals = [
        updates::command(1, sender(), 1, 1_700_000_000, "/start"),
        updates::ignored(2, sender(), 2, 1_700_000_000),
    ];
    let mut mutator = Mutator::new(0x9e37_79b9_7f4a_7c15);
    let mut bodies = Vec::new();
    for original in originals {
        let text = original.to_string().into_bytes();
        for _ in 0..MUTANTS {
            bodies.push(mutator.flip_bytes(text.clone(), 3));
        }
    }
    bodies
}

/// An ignored update (an edited text) whose text fills the body.
fn long_text() -> Value {
    let mut update = updates::ignored(3, sender(), 3, 1_700_000_000);
    update["edited_message"]["text"] = json!("a".repeat(NEAR_LIMIT));
    update
}

/// An update with an unknown field holding a JSON array of about half a million zeros.
fn huge_unknown_array() -> Vec<u8> {
    let mut body = br#"{"update_id":4,"padding":["#.to_vec();
    while body.len() < NEAR_LIMIT {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}");
    body
}

/// A command carrying as many entities as fit.
fn many_entities() -> Value {
    let entity = json!({ "offset": 0, "length": 1, "type": "bold" });
    let count = NEAR_LIMIT / (entity.to_string().len() + 1);
    let mut update = updates::command(5, sender(), 5, 1_700_000_000, "/start");
    update["message"]["entities"] = Value::Array(vec![entity; count]);
    update
}

/// `depth` opening brackets: JSON nested deeper than any parser follows.
fn nested(depth: usize) -> Vec<u8> {
    let mut body = br#"{"update_id":6,"message":"#.to_vec();
    body.resize(body.len() + depth, b'[');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_large_bodies_are_near_the_limit_and_one_is_over() {
        let bodies = bodies();
        let limit = crate::handlers::webhook::MAX_BODY_BYTES;
        let large = bodies.iter().filter(|body| body.len() > limit / 2).count();
        assert_eq!(large, 4);
        assert_eq!(bodies.iter().filter(|body| body.len() > limit).count(), 1);
        assert!(bodies.iter().all(|body| body.len() <= limit + 1));
    }
}
