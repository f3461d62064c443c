//! Cooperative cancellation: a flag that jobs poll (`is_canceled`) or block
//! on (`wait_timeout`), so a canceled build stops its running steps early
//! instead of waiting for them to finish.
//!
//! Boundary: the token only records and signals the request. Stopping a
//! child process (killing a sandbox) is the worker's business; what to do
//! when Ctrl-C arrives is the binary's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// A shared cancellation flag. Clones share it; [`CancelToken::child`]
/// makes a token that is canceled with this one but can also be canceled
/// alone (how the scheduler cancels its jobs on a failure without touching
/// the caller's token).
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Read without the lock on the fast path (`is_canceled`).
    canceled: AtomicBool,
    /// Guards `children` and orders the flag against waiters going to
    /// sleep, so no wake-up is lost.
    state: Mutex<Children>,
    wake: Condvar,
}

/// Tokens to cancel with this one. Weak: a child dropped by its owner
/// need not be kept alive (or canceled).
type Children = Vec<Weak<Inner>>;

impl CancelToken {
    /// A token that is not canceled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Requests cancellation: wakes every waiter, cancels every child.
    /// Idempotent.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether cancellation was requested.
    pub fn is_canceled(&self) -> bool {
        self.inner.canceled.load(Ordering::Acquire)
    }

    /// Blocks until the token is canceled or `timeout` has passed; returns
    /// whether it is canceled. A job that waits on something with a timeout
    /// (a child process, a retry delay) sleeps here instead, so cancellation
    /// interrupts the wait.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        // A deadline, not a per-wait timeout: spurious wake-ups must not
        // extend the wait.
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.inner.lock();
        while !self.is_canceled() {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                // Too far to represent: wait in long steps, forever.
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            guard = self
                .inner
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// A token canceled whenever this one is (now or later), and that can
    /// also be canceled on its own without affecting this one.
    pub fn child(&self) -> CancelToken {
        let child = CancelToken::new();
        let mut children = self.inner.lock();
        // Checked under the lock: `cancel` sets the flag and then drains
        // the children under it, so a child is either drained or sees the
        // flag here.
        if self.is_canceled() {
            drop(children);
            child.cancel();
        } else {
            children.retain(|c| c.strong_count() > 0);
            children.push(Arc::downgrade(&child.inner));
        }
        child
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Children> {
        // Nothing panics while holding this lock, and the data stays
        // consistent even if something did: ignore poisoning.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cancel(&self) {
        if self.canceled.swap(true, Ordering::AcqRel) {
            return;
        }
        // Waiters check the flag under the lock before sleeping; notifying
        // under it means none can check, miss the flag, then sleep forever.
        let children = std::mem::take(&mut *self.lock());
        self.wake.notify_all();
        for child in children {
            if let Some(child) = child.upgrade() {
                child.cancel();
            }
        }
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("canceled", &self.is_canceled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::CancelToken;
    use std::time::Duration;

    #[test]
    fn starts_uncanceled_and_cancel_is_shared_by_clones() {
        let token = CancelToken::new();
        let clone = token.clone();
        assert!(!token.is_canceled());
        clone.cancel();
        clone.cancel();
        assert!(token.is_canceled());
    }

    #[test]
    fn wait_times_out_when_not_canceled() {
        let token = CancelToken::new();
        assert!(!token.wait_timeout(Duration::from_millis(10)));
        assert!(!token.wait_timeout(Duration::ZERO));
    }

    #[test]
    fn wait_returns_at_once_when_already_canceled() {
        let token = CancelToken::new();
        token.cancel();
        assert!(token.wait_timeout(Duration::MAX));
    }

    #[test]
    fn cancel_wakes_a_waiter() {
        let token = CancelToken::new();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| token.wait_timeout(Duration::MAX));
            std::thread::sleep(Duration::from_millis(20));
            token.cancel();
            assert!(waiter.join().unwrap());
        });
    }

    #[test]
    fn children_follow_their_parent_but_not_the_reverse() {
        let parent = CancelToken::new();
        let child = parent.child();
        let grandchild = child.child();
        let sibling = parent.child();

        child.cancel();
        assert!(child.is_canceled() && grandchild.is_canceled());
        assert!(!parent.is_canceled() && !sibling.is_canceled());

        parent.cancel();
        assert!(sibling.is_canceled());
        // A child of a canceled token starts canceled.
        assert!(parent.child().is_canceled());
    }

    #[test]
    fn parent_cancel_wakes_a_child_waiter() {
        let parent = CancelToken::new();
        let child = parent.child();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| child.wait_timeout(Duration::MAX));
            std::thread::sleep(Duration::from_millis(20));
            parent.cancel();
            assert!(waiter.join().unwrap());
        });
    }

    #[test]
    fn dropped_children_are_forgotten() {
        let parent = CancelToken::new();
        for _ in 0..100 {
            drop(parent.child());
        }
        let _kept = parent.child();
        assert!(parent.inner.lock().len() <= 2);
    }
}
