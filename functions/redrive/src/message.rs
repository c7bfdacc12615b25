//! Recognising a dead-letter queue message: the body must be a `contrail.dead-letter/v1` document.

use contrail_shared::deadletter::{DEAD_LETTER_KIND, DeadLetter};
use serde_json::Value;

use crate::report::Failure;

/// Parses a message body; anything that is not a dead letter of a known kind is `unrecognized`.
pub fn parse_dead_letter(body: Option<&str>) -> Result<DeadLetter, Failure> {
    let body = body.ok_or_else(|| Failure::unrecognized("the message has no body"))?;
    let value: Value =
        serde_json::from_str(body).map_err(|e| Failure::unrecognized(format!("the body is not JSON: {e}")))?;
    let kind = value.get("kind").and_then(Value::as_str);
    if kind != Some(DEAD_LETTER_KIND) {
        return Err(Failure::unrecognized(match kind {
            Some(k) => format!("kind {k:?} is not {DEAD_LETTER_KIND}"),
            None => format!("the body is not a {DEAD_LETTER_KIND} document (no kind)"),
        }));
    }
    serde_json::from_value(value).map_err(|e| Failure::unrecognized(format!("malformed {DEAD_LETTER_KIND}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FailReason;

    #[test]
    fn a_dead_letter_body_is_recognised() {
        let body = r#"{"kind":"contrail.dead-letter/v1","topic":"flight-data","partition":1,"offset":9,
            "timestamp":1700000000000,"key":null,"value":"e30=","reason":"schema_violation","field":"event_id",
            "detail":"is required","dead_lettered_at":"2024-05-01T10:00:00Z"}"#;
        let letter = parse_dead_letter(Some(body)).unwrap();
        assert_eq!(letter.coordinates(), "flight-data-1@9");
    }

    #[test]
    fn other_bodies_are_unrecognized_never_a_panic() {
        for body in [None, Some(""), Some("\u{0}"), Some("[1,2]"), Some(r#"{"kind":"other/v1"}"#), Some("null")] {
            let err = parse_dead_letter(body).unwrap_err();
            assert_eq!(err.reason, FailReason::Unrecognized, "{body:?}");
        }
        let missing_fields = r#"{"kind":"contrail.dead-letter/v1","topic":"t"}"#;
        assert_eq!(parse_dead_letter(Some(missing_fields)).unwrap_err().reason, FailReason::Unrecognized);
    }
}
