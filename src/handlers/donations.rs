//! Donations in Telegram Stars, the way Telegram's rules ask: `/donate` (and the "⭐ Support"
//! button) offers the amounts, a tap sends an invoice (`XTR`, an empty provider token, one
//! price), the pre-checkout is answered at once, the payment is credited once per Telegram
//! charge and thanked once, `/paysupport` says how to get help, and an admin can `/refund`.
//!
//! Button data: `donate` (show the amounts), `donate:100` (an invoice for 100 ⭐).

use teloxide::{
    ApiError,
    payloads::{AnswerPreCheckoutQuerySetters, SendInvoiceSetters, SendMessageSetters},
    prelude::Requester,
    types::{
        CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Message,
        PreCheckoutQuery, SuccessfulPayment, TelegramTransactionId, User, UserId,
    },
};

use super::{context::Context, work::spawn_work};
use crate::{
    actors::db_actor::{CreditDonation, FindDonation, MarkRefunded, MarkThanked},
    db::{donations::Credit, donations::Payment, now_ms},
    i18n::Lang,
    payments::{AMOUNTS, CURRENCY, DONATE_BUTTON, InvoicePayload, PayloadError},
};

/// `/donate`: the amounts as buttons.
pub fn offer(ctx: &Context, chat: ChatId, lang: Lang) {
    let buttons = AMOUNTS.map(|stars| {
        InlineKeyboardButton::callback(format!("{stars} ⭐"), format!("{DONATE_BUTTON}:{stars}"))
    });
    let request = ctx
        .bot()
        .send_message(chat, lang.texts().donate_prompt)
        .reply_markup(InlineKeyboardMarkup::new([buttons]));
    ctx.send(chat, request, "donation amounts");
}

/// A donation button: `donate` shows the amounts, `donate:N` sends an invoice for N stars.
pub fn on_button(ctx: &Context, query: &CallbackQuery, lang: Lang, choice: Option<&str>) {
    let chat = query
        .regular_message()
        .map_or(query.from.id.into(), |message| message.chat.id);
    let Some(choice) = choice else {
        ctx.answer_button(query, None);
        return offer(ctx, chat, lang);
    };
    let Some(stars) = choice.parse().ok().filter(|stars| AMOUNTS.contains(stars)) else {
        return ctx.answer_button(query, Some(lang.texts().stale_button));
    };
    ctx.answer_button(query, None);
    let texts = lang.texts();
    let payload = InvoicePayload::new(query.from.id.0, stars).signed(&ctx.payment_key);
    let invoice = ctx
        .bot()
        .send_invoice(
            chat,
            texts.invoice_title,
            texts
                .invoice_description
                .replace("{stars}", &stars.to_string()),
            payload,
            CURRENCY,
            [LabeledPrice::new(texts.invoice_label, stars)],
        )
        // Telegram Stars take no payment provider.
        .provider_token("");
    ctx.send(chat, invoice, "invoice");
}

/// Whether a pre-checkout may go ahead; the reason to refuse, in `lang`, when not.
fn check(ctx: &Context, query: &PreCheckoutQuery, lang: Lang) -> Result<(), &'static str> {
    let texts = lang.texts();
    let payload =
        InvoicePayload::verify(&query.invoice_payload, &ctx.payment_key).map_err(|error| {
            tracing::warn!(%error, user_id = query.from.id.0, "pre-checkout refused");
            match error {
                PayloadError::Malformed | PayloadError::Forged => texts.payment_invalid,
            }
        })?;
    if payload.user_id != query.from.id.0 {
        tracing::warn!(
            user_id = query.from.id.0,
            "pre-checkout of another user's invoice"
        );
        return Err(texts.payment_not_yours);
    }
    let offered = AMOUNTS.contains(&payload.stars);
    if !offered || query.currency != CURRENCY || query.total_amount != payload.stars {
        tracing::warn!(
            user_id = query.from.id.0,
            total = query.total_amount,
            "pre-checkout for an amount not offered"
        );
        return Err(texts.payment_amount);
    }
    Ok(())
}

/// A pre-checkout query: checked and answered at once (Telegram waits at most 10 s).
pub async fn on_pre_checkout(ctx: &Context, query: PreCheckoutQuery) {
    let lang = ctx.language(&query.from).await;
    let answer = match check(ctx, &query, lang) {
        Ok(()) => ctx.bot().answer_pre_checkout_query(query.id.clone(), true),
        Err(reason) => ctx
            .bot()
            .answer_pre_checkout_query(query.id.clone(), false)
            .error_message(reason),
    };
    let chat = ChatId::from(query.from.id);
    if let Err(error) = ctx.outbox.send_uncounted(chat, answer).await {
        tracing::error!(%error, "pre-checkout query not answered");
    }
}

/// A successful payment: credited once per Telegram charge (at once, in a transaction), then
/// thanked once.
pub async fn on_payment(
    ctx: &Context,
    message: &Message,
    user: &User,
    payment: &SuccessfulPayment,
) {
    let charge_id = payment.telegram_payment_charge_id.0.clone();
    let credit = ctx
        .db
        .send(CreditDonation(Payment {
            charge_id: charge_id.clone(),
            user_id: user.id.0 as i64,
            stars: payment.total_amount,
            paid_at: now_ms(),
        }))
        .await;
    match credit {
        Ok(Ok(Credit::Thank)) => {}
        Ok(Ok(Credit::AlreadyThanked)) => {
            tracing::info!(
                user_id = user.id.0,
                "a payment delivered again; credited once"
            );
            return;
        }
        Ok(Err(error)) => {
            ctx.errors.record();
            let error = &error as &dyn std::error::Error;
            return tracing::error!(error, charge_id, "a payment could not be credited");
        }
        Err(error) => {
            ctx.errors.record();
            return tracing::error!(%error, charge_id, "the database actor is unreachable; a payment is not credited");
        }
    }
    tracing::info!(
        user_id = user.id.0,
        stars = payment.total_amount,
        "donation credited"
    );
    let lang = ctx.language(user).await;
    let thanks = lang
        .texts()
        .donation_thanks
        .replace("{stars}", &payment.total_amount.to_string());
    let chat = message.chat.id;
    let sent = ctx.outbox.send(
        chat,
        crate::telegram::SendClass::Reply,
        ctx.bot().send_message(chat, thanks),
    );
    let db = ctx.db.clone();
    spawn_work(async move {
        match sent.await {
            Ok(_) => {
                let thanked = db
                    .send(MarkThanked {
                        charge_id,
                        at: now_ms(),
                    })
                    .await;
                if !matches!(thanked, Ok(Ok(()))) {
                    tracing::warn!("a thank-you was sent but not recorded; it may be sent again");
                }
            }
            Err(error) => tracing::warn!(%error, "thank-you not delivered"),
        }
    });
}

/// `/paysupport`: how to get help with a payment.
pub fn pay_support(ctx: &Context, chat: ChatId, lang: Lang) {
    ctx.reply(chat, lang.texts().pay_support);
}

/// `/refund <charge_id>` (admins only, checked by the caller): refunds through Telegram and
/// marks the donation refunded; a charge refunded before counts as done.
pub async fn refund(ctx: &Context, chat: ChatId, lang: Lang, charge_id: &str) {
    let texts = lang.texts();
    let charge_id = charge_id.trim();
    if charge_id.is_empty() {
        return ctx.reply(chat, texts.refund_usage);
    }
    let donation = match ctx.db.send(FindDonation(charge_id.to_owned())).await {
        Ok(Ok(Some(donation))) => donation,
        Ok(Ok(None)) => return ctx.reply(chat, texts.refund_unknown),
        other => {
            ctx.errors.record();
            tracing::error!(?other, "the donation could not be read");
            return ctx.reply(chat, texts.internal_error);
        }
    };
    let user = UserId(u64::try_from(donation.user_id).unwrap_or_default());
    let charge = TelegramTransactionId(charge_id.to_owned());
    let asked = ctx.bot().refund_star_payment(user, charge);
    let text = match ctx.outbox.send_uncounted(chat, asked).await {
        Ok(_) => texts
            .refund_done
            .replace("{stars}", &donation.stars.to_string())
            .replace("{user}", &donation.user_id.to_string()),
        Err(crate::telegram::TelegramError::Api(api)) if already_refunded(&api) => {
            texts.refund_already.to_owned()
        }
        Err(error) => {
            tracing::warn!(%error, "refund refused");
            let reason = teloxide::utils::html::escape(&error.to_string());
            return ctx.reply(chat, &texts.refund_failed.replace("{reason}", &reason));
        }
    };
    let marked = ctx
        .db
        .send(MarkRefunded {
            charge_id: charge_id.to_owned(),
            at: now_ms(),
        })
        .await;
    if !matches!(marked, Ok(Ok(()))) {
        ctx.errors.record();
        tracing::error!(charge_id, "a refund went through but is not recorded");
    }
    ctx.reply(chat, &text);
}

/// Whether Telegram said the charge was refunded before (`CHARGE_ALREADY_REFUNDED`).
fn already_refunded(error: &ApiError) -> bool {
    error.to_string().contains("CHARGE_ALREADY_REFUNDED")
}
