//! Donations in Telegram Stars as the bot offers them: the amounts, and the invoice payload
//! that ties an invoice to the user it was made for and its amount.
//!
//! The payload (`d1.{user}.{stars}.{nonce}.{tag}`, under 80 bytes of Telegram's 128) is
//! signed with HMAC-SHA-256 (ring), with `PAYMENT_SECRET` or, without it, a key derived from
//! the bot token; the tag is checked in constant time. So a pre-checkout for a payload we did
//! not make, for another user, or for an amount we do not offer is refused.

use std::{fmt, str::FromStr};

use ring::hmac;
use teloxide::types::InlineKeyboardButton;

use crate::i18n::Lang;

/// Callback data of the "⭐ Support" button; `donate:N` asks for an invoice of N stars.
pub const DONATE_BUTTON: &str = "donate";

/// The "⭐ Support" button, for under `/help` and tour summaries.
pub fn support_button(lang: Lang) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(lang.texts().support_button, DONATE_BUTTON)
}

/// The amounts offered, in stars.
pub const AMOUNTS: [u32; 5] = [50, 100, 250, 500, 1000];
/// Telegram Stars' currency code.
pub const CURRENCY: &str = "XTR";
/// What the key is derived for, when it comes from the bot token.
const DERIVATION_LABEL: &[u8] = b"excursobot invoice payloads v1";
/// The payload's version prefix.
const VERSION: &str = "d1";
/// Bytes of the MAC kept in the payload.
const TAG_BYTES: usize = 16;

/// The key invoice payloads are signed with.
#[derive(Clone)]
pub struct PaymentKey(hmac::Key);

impl fmt::Debug for PaymentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaymentKey(…)")
    }
}

impl PaymentKey {
    /// A key from `PAYMENT_SECRET`.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A key derived from the bot token (HMAC of a fixed label under the token), so a bot
    /// without `PAYMENT_SECRET` still signs with something only it knows.
    pub fn from_bot_token(token: &[u8]) -> Self {
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, token), DERIVATION_LABEL);
        Self::from_secret(derived.as_ref())
    }

    fn tag(&self, body: &str) -> String {
        let tag = hmac::sign(&self.0, body.as_bytes());
        hex(&tag.as_ref()[..TAG_BYTES])
    }
}

/// What an invoice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoicePayload {
    /// The user the invoice was made for.
    pub user_id: u64,
    /// Stars asked.
    pub stars: u32,
    /// Makes every invoice's payload distinct.
    pub nonce: u64,
}

/// Why a payload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not the shape of our payloads.
    #[error("not an invoice payload of this bot")]
    Malformed,
    /// The tag does not match: forged or tampered with.
    #[error("the payload's signature does not match")]
    Forged,
}

impl InvoicePayload {
    /// A payload for `stars` from `user_id`, with a fresh nonce.
    pub fn new(user_id: u64, stars: u32) -> Self {
        Self {
            user_id,
            stars,
            nonce: rand::random(),
        }
    }

    /// The payload as sent in the invoice.
    pub fn signed(&self, key: &PaymentKey) -> String {
        let body = format!(
            "{VERSION}.{}.{}.{:016x}",
            self.user_id, self.stars, self.nonce
        );
        let tag = key.tag(&body);
        format!("{body}.{tag}")
    }

    /// The payload `text` stands for, if `key` signed it.
    pub fn verify(text: &str, key: &PaymentKey) -> Result<Self, PayloadError> {
        let (body, tag) = text.rsplit_once('.').ok_or(PayloadError::Malformed)?;
        let tag = unhex(tag).ok_or(PayloadError::Malformed)?;
        let mut parts = body.split('.');
        let (Some(VERSION), Some(user), Some(stars), Some(nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(PayloadError::Malformed);
        };
        let expected = hmac::sign(&key.0, body.as_bytes());
        // Constant time: the whole tag is compared however early it differs.
        if tag.len() != TAG_BYTES
            || !bool::from(subtle::ConstantTimeEq::ct_eq(
                &expected.as_ref()[..TAG_BYTES],
                tag.as_slice(),
            ))
        {
            return Err(PayloadError::Forged);
        }
        Ok(Self {
            user_id: u64::from_str(user).map_err(|_| PayloadError::Malformed)?,
            stars: u32::from_str(stars).map_err(|_| PayloadError::Malformed)?,
            nonce: u64::from_str_radix(nonce, 16).map_err(|_| PayloadError::Malformed)?,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> PaymentKey {
        PaymentKey::from_bot_token(b"123456:TEST-token")
    }

    #[test]
    fn a_signed_payload_verifies_and_fits_telegrams_128_bytes() {
        let payload = InvoicePayload::new(u64::from(u32::MAX) * 4, 1000);
        let text = payload.signed(&key());
        assert!(text.len() <= 128, "{} bytes: {text}", text.len());
        assert_eq!(InvoicePayload::verify(&text, &key()), Ok(payload));
    }

    #[test]
    fn a_tampered_or_foreign_payload_is_refused() {
        let text = InvoicePayload::new(42, 100).signed(&key());
        let more = text.replacen(".100.", ".1000.", 1);
        assert_eq!(
            InvoicePayload::verify(&more, &key()),
            Err(PayloadError::Forged)
        );
        let other_bot = PaymentKey::from_bot_token(b"999:OTHER");
        assert_eq!(
            InvoicePayload::verify(&text, &other_bot),
            Err(PayloadError::Forged)
        );
        for odd in [
            "",
            "d1",
            "d1.42.100.0.zz",
            "x1.42.100.00.00",
            "d1.a.b.c.d.e",
        ] {
            assert!(InvoicePayload::verify(odd, &key()).is_err(), "{odd}");
        }
        let secret = PaymentKey::from_secret(b"a long payment secret of ours");
        assert_eq!(
            InvoicePayload::verify(&text, &secret),
            Err(PayloadError::Forged)
        );
    }
}
