#![allow(clippy::unwrap_used)]

use serde_json::json;
use tracing_test::traced_test;

use super::*;

/// The reaction sample without its actor, as Telegram never sends it but anyone can.
fn reaction_without_actor() -> Vec<u8> {
    json!({
        "update_id": 91_001,
        "message_reaction": {
            "chat": { "id": -100_218, "title": "Test", "type": "supergroup" },
            "message_id": 35, "date": 1_721_306_082,
            "old_reaction": [], "new_reaction": [{ "type": "emoji", "emoji": "🌭" }]
        }
    })
    .to_string()
    .into_bytes()
}

#[test]
#[traced_test]
fn a_body_the_parser_panics_on_is_unusable_and_one_warning() {
    assert!(parse_update(&reaction_without_actor(), &UnusableWarnings::default()).is_none());

    logs_assert(|lines: &[&str]| {
        let panicked: Vec<_> = lines.iter().filter(|l| l.contains("panicked")).collect();
        match panicked.as_slice() {
            [line] if line.contains("update_id=91001") && line.contains("WARN") => Ok(()),
            _ => Err(format!("{lines:?}")),
        }
    });
}

#[test]
#[traced_test]
fn what_a_body_says_never_reaches_the_log() {
    let secret = "my-home-address-17";
    let bodies = [
        json!({ "update_id": secret }).to_string(),
        json!({ "update_id": 91_002, "message": [secret] })
            .to_string()
            .replace('[', "{"),
        format!(r#"{{"update_id": 91_003, "{secret}": [1, 2"#),
        format!("{secret} is not JSON"),
    ];

    for body in &bodies {
        assert!(parse_update(body.as_bytes(), &UnusableWarnings::default()).is_none());
    }

    assert!(!logs_contain(secret));
    assert!(logs_contain("unparsable webhook body"));
}

#[test]
fn a_serde_message_keeps_its_category_and_position_without_the_quoted_input() {
    let error = serde_json::from_str::<u32>(r#""secret""#).unwrap_err();

    assert_eq!(
        Unquoted(&error).to_string(),
        "invalid type: string … at line 1 column 8"
    );
}

#[test]
fn each_outcome_counts_under_its_own_name() {
    let metrics = Metrics::new();
    let counters = admission_counters(&metrics);
    for admission in Admission::ALL {
        counters[0][admission as usize].increment(1);
    }
    let text = metrics.render();
    for outcome in ["accepted", "duplicate", "unusable", "busy", "closed"] {
        let line = format!(r#"excursobot_updates_total{{kind="message",outcome="{outcome}"}} 1"#);
        assert!(text.contains(&line), "{line} in {text}");
    }
}
