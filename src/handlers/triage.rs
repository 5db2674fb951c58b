//! The webhook path's decisions on a raw body, made without handling anything: parse it
//! ([`dispatch::parse_update`]), admit it or not ([`dispatch::check`]: its kind, its
//! `update_id` seen before) and pick the lane it would wait in ([`LaneKey::of`], and whether
//! a newer live-location edit would replace it there, [`lanes::live_edit`]). The fuzz
//! target (`fuzz/`) and the hostile-bodies property test feed it what a stranger could send:
//! it runs the very functions the webhook runs, which must never panic.

use std::sync::LazyLock;

use super::{
    dispatch::{self, Admission, UnusableWarnings},
    lanes::{self, LaneKey},
};
use crate::cache::SeenUpdates;

/// The warnings of the bodies triaged in this process (one a second per reason, as the
/// webhook's).
static WARNINGS: LazyLock<UnusableWarnings> = LazyLock::new(UnusableWarnings::default);

/// Where a body would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triage {
    /// Unreadable, or of a kind we cannot use: answered 200 and logged.
    Unusable,
    /// Its `update_id` was seen before: answered 200, not handled again.
    Duplicate,
    /// Into a lane (`None`: handled at once, outside the lanes); `coalesces` when a newer
    /// live-location edit of the same message would replace it.
    Lane {
        key: Option<LaneKey>,
        coalesces: bool,
    },
}

/// Decides what the webhook would do with `body`, `seen` standing for the dedup store.
pub async fn triage(body: &[u8], seen: &SeenUpdates) -> Triage {
    let Some(update) = dispatch::parse_update(body, &WARNINGS) else {
        return Triage::Unusable;
    };
    match dispatch::check(&update, seen, &WARNINGS).await {
        Admission::Accepted => Triage::Lane {
            key: LaneKey::of(&update),
            coalesces: lanes::live_edit(&update).is_some(),
        },
        Admission::Duplicate => Triage::Duplicate,
        _ => Triage::Unusable,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn a_location_goes_to_its_users_lane_once_and_garbage_nowhere() {
        let seen = SeenUpdates::new(None);
        let body = json!({
            "update_id": 5,
            "message": {
                "message_id": 1, "date": 1_700_000_000, "location": { "latitude": 1.0, "longitude": 2.0 },
                "chat": { "id": 9, "type": "private", "first_name": "A" },
                "from": { "id": 9, "is_bot": false, "first_name": "A" }
            }
        })
        .to_string();

        let first = triage(body.as_bytes(), &seen).await;
        let again = triage(body.as_bytes(), &seen).await;
        let garbage = triage(b"{\"update_id\":", &seen).await;

        let lane = Some(LaneKey::User(9));
        assert_eq!(
            first,
            Triage::Lane {
                key: lane,
                coalesces: false
            }
        );
        assert_eq!(again, Triage::Duplicate);
        assert_eq!(garbage, Triage::Unusable);
    }
}
