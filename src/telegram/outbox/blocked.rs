//! Chats whose user blocked the bot (Telegram answered 403 "bot was blocked by the user", or
//! "user is deactivated", or a `my_chat_member` update said so): nothing more is sent there
//! until the user writes again, and whoever must know (the database, the tours) is told once
//! per block.

use std::{
    collections::HashSet,
    sync::{Mutex, MutexGuard, PoisonError},
};

use actix::Recipient;
use teloxide::types::ChatId;

use crate::actors::db_actor::MarkBlocked;

/// Blocked chats remembered in process; past this many a new block is still recorded in the
/// database, and each send to that chat still meets Telegram's 403.
const BLOCKED_CAP: usize = 100_000;

/// The blocked chats and who hears of a new block.
pub struct BlockedChats {
    chats: Mutex<HashSet<ChatId>>,
    /// Told of every new block (the database's actor first, then the tours).
    listeners: Mutex<Vec<Recipient<MarkBlocked>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlockedChats {
    /// No chat blocked yet; `first` hears of every block.
    pub fn new(first: Recipient<MarkBlocked>) -> Self {
        Self {
            chats: Mutex::default(),
            listeners: Mutex::new(vec![first]),
        }
    }

    /// `listener` hears of every block from now on.
    pub fn tell(&self, listener: Recipient<MarkBlocked>) {
        lock(&self.listeners).push(listener);
    }

    /// The user of the private `chat` blocked the bot; the listeners hear of it once.
    pub fn mark(&self, chat: ChatId) {
        if !chat.is_user() {
            return;
        }
        let new = {
            let mut chats = lock(&self.chats);
            chats.len() >= BLOCKED_CAP || chats.insert(chat)
        };
        if !new {
            return;
        }
        for listener in lock(&self.listeners).iter() {
            // Past any mailbox bound: a block must not be lost to a busy actor (only a
            // stopped one drops it, and a supervised one is restarted).
            listener.do_send(MarkBlocked { user_id: chat.0 });
        }
    }

    /// The user of `chat` wrote to us: they no longer block the bot.
    pub fn clear(&self, chat: ChatId) {
        lock(&self.chats).remove(&chat);
    }

    /// Whether nothing may be sent to `chat`.
    pub fn contains(&self, chat: ChatId) -> bool {
        lock(&self.chats).contains(&chat)
    }
}
