//! What each thread of a scan is waiting on now, so that a check past its deadline can say what
//! it was still reading. Each thread has a slot of its own: the workers of a holder scan serve
//! a hundred thousand requests between them, and one shared list under one lock made them queue
//! on each other at every request.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::Request;

/// A thread's request in progress, and since when.
type Slot = Arc<Mutex<Option<(Request, Instant)>>>;

/// The slots of one Host's threads.
pub(super) struct InFlight {
    /// Tells this Host's slots from another's in a thread that served both.
    id: u64,
    slots: Mutex<Vec<(Thread, Slot)>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's slot in each Host it has served, by the Host's id.
    static MINE: RefCell<Vec<(u64, Slot)>> = const { RefCell::new(Vec::new()) };
}

impl InFlight {
    pub(super) fn new() -> Self {
        InFlight {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Marks `request` as this thread's until the returned guard is finished or dropped (a
    /// panic in the source included). Only named threads (checks, the summary) are asked after.
    pub(super) fn enter(&self, request: Request, since: Instant) -> Waiting {
        let Some(slot) = self.slot() else {
            return Waiting {
                slot: None,
                mine: Some(request),
                before: None,
            };
        };
        let before = lock(&slot).replace((request, since));
        Waiting {
            slot: Some(slot),
            mine: None,
            before,
        }
    }

    /// The request a thread of this name has waited on longest, and for how long.
    pub(super) fn waiting_on(&self, name: &str) -> Option<(Request, Duration)> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .filter(|(t, _)| t.name() == Some(name))
            .filter_map(|(_, slot)| lock(slot).clone())
            .min_by_key(|(_, since)| *since)
            .map(|(request, since)| (request, since.elapsed()))
    }

    /// This thread's slot, made and registered on its first request.
    fn slot(&self) -> Option<Slot> {
        let thread = std::thread::current();
        thread.name()?;
        MINE.with_borrow_mut(|mine| {
            if let Some((_, slot)) = mine.iter().find(|(id, _)| *id == self.id) {
                return Some(slot.clone());
            }
            // Slots of Hosts that are gone (only this list still holds them) go first.
            mine.retain(|(_, slot)| Arc::strong_count(slot) > 1);
            let slot: Slot = Arc::default();
            self.slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((thread, slot.clone()));
            mine.push((self.id, slot.clone()));
            Some(slot)
        })
    }
}

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<(Request, Instant)>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request in progress. Finished, it gives the request back for the record; dropped
/// unfinished (a panic), it still clears the slot, so no stale request is ever reported.
pub(super) struct Waiting {
    slot: Option<Slot>,
    /// The request itself when the thread has no slot.
    mine: Option<Request>,
    /// What the slot held before (a request served inside another's).
    before: Option<(Request, Instant)>,
}

impl Waiting {
    pub(super) fn finish(mut self) -> Option<Request> {
        match self.slot.take() {
            Some(slot) => {
                let mut now = lock(&slot);
                let request = now.take().map(|(r, _)| r);
                *now = self.before.take();
                request
            }
            None => self.mine.take(),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            *lock(&slot) = self.before.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .and_then(|h| h.join().map_err(|_| std::io::Error::other("panicked")))
            .unwrap_or_else(|e| panic!("thread {name}: {e}"))
    }

    #[test]
    fn a_named_threads_request_is_seen_while_served_and_given_back_after() {
        let flight = Arc::new(InFlight::new());
        let f = flight.clone();
        let (seen, back, after) = named("check:x", move || {
            let w = f.enter(Request::Read("/etc/a".into()), Instant::now());
            let seen = f.waiting_on("check:x").map(|(r, _)| r);
            let back = w.finish();
            (seen, back, f.waiting_on("check:x"))
        });
        assert!(matches!(seen, Some(Request::Read(p)) if p == "/etc/a"));
        assert!(matches!(back, Some(Request::Read(p)) if p == "/etc/a"));
        assert!(after.is_none());
        assert!(flight.waiting_on("check:y").is_none());
    }

    #[test]
    fn a_request_abandoned_by_a_panic_is_not_reported() {
        let flight = Arc::new(InFlight::new());
        let f = flight.clone();
        let panicked = std::thread::Builder::new()
            .name("check:p".into())
            .spawn(move || {
                let _w = f.enter(Request::Read("/hung".into()), Instant::now());
                panic!("the source panicked");
            })
            .map(|h| h.join().is_err());
        assert!(matches!(panicked, Ok(true)));
        assert!(flight.waiting_on("check:p").is_none());
    }

    #[test]
    fn an_inner_request_gives_the_slot_back_to_the_outer_one() {
        let flight = Arc::new(InFlight::new());
        let f = flight.clone();
        let outer = named("check:n", move || {
            let outer = f.enter(Request::Read("/outer".into()), Instant::now());
            let inner = f.enter(Request::Read("/inner".into()), Instant::now());
            let back = inner.finish();
            assert!(matches!(back, Some(Request::Read(p)) if p == "/inner"));
            let now = f.waiting_on("check:n").map(|(r, _)| r);
            outer.finish();
            now
        });
        assert!(matches!(outer, Some(Request::Read(p)) if p == "/outer"));
    }

    #[test]
    fn an_unnamed_thread_keeps_its_request_to_itself() {
        let flight = InFlight::new();
        let back = std::thread::scope(|s| {
            s.spawn(|| {
                flight
                    .enter(Request::Read("/x".into()), Instant::now())
                    .finish()
            })
            .join()
        });
        assert!(matches!(back, Ok(Some(Request::Read(p))) if p == "/x"));
    }
}
