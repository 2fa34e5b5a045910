//! The write side (the command side): takes commands, checks them against the
//! message's own history, and appends events to the log.
//!
//! It uses only the shared part. It never asks a read model anything: every
//! rule is decided from the stream of the message the command is about.

use std::fmt;

use super::shared::{EventLog, MessageEvent, Position, RecordedEvent, StreamId, UserId};

// ANCHOR: commands
/// Something a user asks to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageCommand {
    /// Send a new message. The caller picks the message's id (its stream).
    SendMessage {
        /// Who sends it.
        from: UserId,
        /// Who it is for.
        to: UserId,
        /// What it says; surrounding whitespace is trimmed.
        text: String,
    },
    /// Mark the message read. Only its recipient may.
    MarkRead {
        /// Who is marking it.
        by: UserId,
    },
    /// Delete the message for both sides. Its sender or recipient may.
    DeleteMessage {
        /// Who is deleting it.
        by: UserId,
    },
}
// ANCHOR_END: commands

/// Why the write side refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// A message with this id was already sent.
    AlreadySent,
    /// No message with this id was ever sent.
    NotFound,
    /// The message was deleted; nothing more can happen to it.
    Deleted,
    /// The text is empty once trimmed.
    EmptyText,
    /// Someone other than the recipient tried to mark the message read.
    NotRecipient {
        /// Who tried.
        user: UserId,
    },
    /// Someone who neither sent nor received the message tried to delete it.
    NotParticipant {
        /// Who tried.
        user: UserId,
    },
}

// ANCHOR: write_side
/// The command side: a handle on the log that only ever appends to it.
#[derive(Debug, Clone)]
pub struct WriteSide {
    log: EventLog,
}

impl WriteSide {
    /// A write side appending to `log`.
    pub fn new(log: EventLog) -> Self {
        WriteSide { log }
    }

    /// Handles `command` for the message `message`.
    ///
    /// Returns the position to wait for to read your write: a read model
    /// that has reached it shows the message as this command left it. A
    /// command that changed nothing (marking a read message read) returns the
    /// position of the message's latest event.
    ///
    /// # Errors
    ///
    /// A [`MessageError`] when the message's own history forbids the command;
    /// nothing is appended then.
    pub fn handle(
        &self,
        message: &StreamId,
        command: MessageCommand,
    ) -> Result<Position, MessageError> {
        // The log runs `decide` while it holds its lock, so two commands for
        // the same message cannot both decide from the same old state.
        self.log
            .append_with(message, |history| decide(&command, &fold(history)))
    }
}
// ANCHOR_END: write_side

// ANCHOR: decide
/// What the write side knows about one message: just enough for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MessageState {
    NotSent,
    Sent {
        from: UserId,
        to: UserId,
        read: bool,
    },
    Deleted,
}

fn decide(
    command: &MessageCommand,
    state: &MessageState,
) -> Result<Vec<MessageEvent>, MessageError> {
    match (command, state) {
        (MessageCommand::SendMessage { from, to, text }, MessageState::NotSent) => {
            let text = text.trim();
            if text.is_empty() {
                return Err(MessageError::EmptyText);
            }
            Ok(vec![MessageEvent::MessageSent {
                from: from.clone(),
                to: to.clone(),
                text: text.to_string(),
            }])
        }
        (MessageCommand::SendMessage { .. }, _) => Err(MessageError::AlreadySent),
        (_, MessageState::NotSent) => Err(MessageError::NotFound),
        (_, MessageState::Deleted) => Err(MessageError::Deleted),
        (MessageCommand::MarkRead { by }, MessageState::Sent { to, read, .. }) => {
            if by != to {
                Err(MessageError::NotRecipient { user: by.clone() })
            } else if *read {
                Ok(Vec::new()) // already read: nothing new happened
            } else {
                Ok(vec![MessageEvent::MessageRead { by: by.clone() }])
            }
        }
        (MessageCommand::DeleteMessage { by }, MessageState::Sent { from, to, .. }) => {
            if by != from && by != to {
                Err(MessageError::NotParticipant { user: by.clone() })
            } else {
                Ok(vec![MessageEvent::MessageDeleted { by: by.clone() }])
            }
        }
    }
}
// ANCHOR_END: decide

fn fold(history: &[&RecordedEvent]) -> MessageState {
    history
        .iter()
        .fold(MessageState::NotSent, |state, recorded| {
            evolve(state, &recorded.event)
        })
}

fn evolve(state: MessageState, event: &MessageEvent) -> MessageState {
    match event {
        MessageEvent::MessageSent { from, to, .. } => MessageState::Sent {
            from: from.clone(),
            to: to.clone(),
            read: false,
        },
        MessageEvent::MessageRead { .. } => match state {
            MessageState::Sent { from, to, .. } => MessageState::Sent {
                from,
                to,
                read: true,
            },
            other => other,
        },
        MessageEvent::MessageDeleted { .. } => MessageState::Deleted,
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::AlreadySent => f.write_str("a message with this id was already sent"),
            MessageError::NotFound => f.write_str("no message with this id was sent"),
            MessageError::Deleted => f.write_str("the message was deleted"),
            MessageError::EmptyText => f.write_str("a message needs some text"),
            MessageError::NotRecipient { user } => {
                write!(f, "{user} is not the recipient, so cannot mark it read")
            }
            MessageError::NotParticipant { user } => {
                write!(
                    f,
                    "{user} neither sent nor received it, so cannot delete it"
                )
            }
        }
    }
}

impl std::error::Error for MessageError {}
