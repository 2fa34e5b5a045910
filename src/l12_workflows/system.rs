//! The notifications reactor: it follows the log and tells each customer
//! how their transfer ended.

use std::collections::{BTreeMap, HashMap};

use super::store::{AccountId, CommandId, Event, Metadata, Position, SharedStore, StreamId};
use super::transfer::{DriveError, TransferState, evolve};

// ANCHOR: notifier
/// A message to a customer about one of their transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The account whose owner is told: the transfer's source.
    pub to: AccountId,
    /// What they are told.
    pub text: String,
    /// The transfer's id, and the event that finished it.
    pub metadata: Metadata,
}

/// A reactor: it follows the log from its own checkpoint and tells the
/// source's owner how each transfer ended, once per transfer. It keeps the
/// unfinished transfers' states itself (a small projection), and
/// what it sent is keyed by transfer, so a delivery twice sends nothing new.
#[derive(Debug, Default)]
pub struct Notifier {
    checkpoint: Position,
    transfers: HashMap<CommandId, TransferState>,
    /// What was sent, by transfer.
    pub sent: BTreeMap<CommandId, Notification>,
}

impl Notifier {
    /// Reads every event after the checkpoint and notifies the transfers
    /// that finished. Returns how many notifications it sent.
    ///
    /// # Errors
    ///
    /// [`DriveError::StorePoisoned`] when the lock is poisoned.
    pub fn catch_up(&mut self, store: &SharedStore) -> Result<usize, DriveError> {
        let store = store.read().map_err(|_| DriveError::StorePoisoned)?;
        let mut sent = 0;
        for recorded in store.read_all(self.checkpoint) {
            self.checkpoint = recorded.position;
            let (StreamId::Transfer(id), Event::Transfer(event)) =
                (&recorded.stream, &recorded.event)
            else {
                continue;
            };
            let state = self
                .transfers
                .remove(id)
                .unwrap_or(TransferState::NotRequested);
            let state = evolve(state, event);
            if let TransferState::Finished { transfer, outcome } = &state
                && !self.sent.contains_key(id)
            {
                let notification = Notification {
                    to: transfer.from.clone(),
                    text: format!(
                        "your transfer {id} of {} to {}: {outcome}",
                        transfer.amount, transfer.to
                    ),
                    metadata: Metadata {
                        correlation: recorded.metadata.correlation.clone(),
                        causation: recorded.id(),
                    },
                };
                self.sent.insert(id.clone(), notification);
                sent += 1;
            }
            // A finished transfer needs no state any more.
            if let TransferState::Active { .. } = state {
                self.transfers.insert(id.clone(), state);
            }
        }
        Ok(sent)
    }
}
// ANCHOR_END: notifier
