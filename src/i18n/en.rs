//! English strings.

use super::{CommandDescriptions, Texts};

pub(super) static EN: Texts = Texts {
    welcome: "Hi! I tell short, true stories about real places near you.\n\
              Send me your location and I will find a place nearby and tell you about it.",
    live_guide: "<b>Walking?</b> Share a live location and I will tell you about a new place \
                 every few minutes:\n📎 Attach → 📍 Location → <b>Share My Live Location</b>.\n\
                 Stop sharing or send /stop to end the tour.",
    live_hint: "💡 <b>Tip:</b> share a <b>live</b> location and I become your guide, telling you \
                about a new place every few minutes as you walk:\n📎 Attach → 📍 Location → \
                <b>Share My Live Location</b>.",
    send_location_button: "📍 Send my location",
    choose_language: "Choose a language:",
    language_set: "Done: I will speak English.",
    language_name: "English",
    unusable_message: "I can't use that. Send me a location (📎 → 📍) and I'll tell you about a place nearby.",
    restart_apology: "Sorry, I was restarting and could not answer your last request in time. Please send it again.",
    unknown_command: "I don't know that command. /help shows what I can do.",
    admin_only: "This command is for the bot's administrators.",
    stale_button: "This button has expired.",
    tell_more_button: "🔎 Tell me more",
    on_the_map_button: "📍 On the map",
    another_place_button: "➡️ Another place",
    source_label: "Wikipedia",
    from_wikipedia: "📖 From Wikipedia:",
    guide_story: "✨ Now written by the guide:",
    nothing_nearby: "I have no new place to tell you about right here.{near} Walk a little and send your location again.",
    sources_down: "My sources are out of reach right now.{near} Please try again in a minute.",
    you_are_near: " You are near {locality}.",
    busy: "Lots of people are exploring right now. Please try again in a minute.",
    distance_template: "{distance} {direction} of you",
    units: ("m", "km"),
    compass: [
        "north",
        "north-east",
        "east",
        "south-east",
        "south",
        "south-west",
        "west",
        "north-west",
    ],
    prompt_language: "English",
    settings_summary: "<b>Settings</b>\nLanguage: {language}\nTour interval: {interval}\nSearch radius: {radius}\nPhotos: {photos}",
    minutes: "min",
    on_off: ("on", "off"),
    settings_saved: "Saved",
    not_saved: "I couldn't save that right now. Please try again in a minute.",
    reset_question: "Forget your settings, the places I told you about and the distance you walked on tours? \
                     This cannot be undone.",
    reset_buttons: ("Yes, forget", "Cancel"),
    reset_done: "Done: I forgot your settings and history.",
    reset_cancelled: "Nothing changed.",
    own_stats: "<b>Your stats</b>\nStories received: {facts}\nPlaces: {places}\nDistance walked on tours: {distance}",
    stats_unavailable: "Figures are unavailable right now. Please try again in a minute.",
    donate_prompt: "⭐ Like the stories? Support the bot with Telegram Stars: choose an amount.",
    support_button: "⭐ Support",
    invoice_title: "Support excursobot",
    invoice_description: "{stars} Telegram Stars to keep the stories coming.",
    invoice_label: "Support",
    donation_thanks: "Thank you for {stars} ⭐! For the next 30 days your tour stories come first.",
    payment_not_yours: "This invoice was made for someone else. Send /donate for your own.",
    payment_invalid: "This invoice is not valid any more. Send /donate for a new one.",
    payment_amount: "This amount is not offered. Send /donate to choose one.",
    pay_support: "Questions about a payment? Write them here in reply, with the date and the amount: an administrator reads every message and answers within a day, and refunds a payment made by mistake. Telegram's own support cannot help with payments to bots.",
    refund_usage: "Usage: /refund &lt;telegram_payment_charge_id&gt;",
    refund_done: "Refunded {stars} ⭐ to user {user}.",
    refund_already: "This payment was refunded before.",
    refund_unknown: "I know no payment with this id.",
    refund_failed: "Telegram did not refund it: {reason}",
    own_donations: "\nStars given: {stars} ⭐ — thank you!",
    stats_in_private: "I show statistics only in a private chat: send /stats to me there.",
    admin_stats: "<b>Bot statistics</b>\n\
        Users: {users_total} total; {users_active} active, {users_new} new in 24 h\n\
        Stories in 24 h: {facts_24h} (cache {cache_24h}, LLM {llm_24h}, fallback {fallback_24h})\n\
        Stories in total: {facts_total} (cache {cache_total}, LLM {llm_total}, fallback {fallback_total})\n\
        Cache hit ratio: {hit_ratio}\n\
        LLM calls: {llm_calls}\n\
        Story latency, last hour: p50 {p50}, p95 {p95}\n\
        LLM queue: interactive {queue_interactive}, live {queue_live}, ahead {queue_background}; permits in use {in_flight} of {permits}\n\
        Live tours: {live} of {live_cap}\n\
        Donations: {donations} ({refunds} refunded); {stars_24h} ⭐ in 24 h, {stars_total} ⭐ in total\n\
        Errors in 24 h: {errors}\n\
        Uptime {uptime}, version {version}",
    internal_error: "Something went wrong on my side. Please try again in a minute.",
    tour_started: "🚶 Your tour has started! As you walk, I will tell you about a new place nearby. \
                   How often?",
    hours: "h",
    tour_interval_set: "A new place every {minutes} min.",
    tour_full: "So many people are walking with me right now that I can't start another tour. \
                Single locations still work: send one any time. Please try a tour again a little later.",
    tour_summary: "🏁 Tour finished. Stories: {stories} · walked: {distance} · time: {duration}.",
    no_tour: "No tour is running. Share your live location to start one.",
    heading_cues: [
        "👀 Straight ahead",
        "👀 On your right",
        "👀 Behind you",
        "👀 On your left",
    ],
    command_descriptions: CommandDescriptions {
        start: "Start: what this bot does",
        help: "How to share a live location",
        language: "Switch language",
        stop: "End the live tour",
        settings: "Language, tour interval, radius, photos",
        stats: "Your statistics",
        reset: "Forget my settings and history",
        donate: "Support the bot with Telegram Stars",
        paysupport: "Help with a payment",
    },
};
