//! Running one job per item on a few threads — layers of a pull or push,
//! top-level subtrees of a context walk. Results come back in item order;
//! after a failure the threads take no more items, and the failure of the
//! earliest item is returned, so which error a user sees does not depend
//! on scheduling.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `job(item)` for every item, on up to `threads` threads (the calling
/// thread is one of them). `lost` makes the error for a result that went
/// missing, which only a worker that panicked could cause.
pub(crate) fn for_each<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    job: impl Fn(&T) -> Result<R, E> + Sync,
    lost: impl FnOnce() -> E,
) -> Result<Vec<R>, E> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, E>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return;
            };
            let result = job(item);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            if let Ok(mut slot) = slots[i].lock() {
                *slot = Some(result);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.min(items.len()) {
            scope.spawn(work);
        }
        work();
    });
    // Items are taken in order, so every item before a failed one was
    // taken and finished: the first error met here is the earliest item's.
    let mut results = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().ok().flatten() {
            Some(Ok(result)) => results.push(result),
            Some(Err(e)) => return Err(e),
            None => return Err(lost()),
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order() {
        let items: Vec<u32> = (0..20).collect();
        let doubled = for_each(&items, 3, |n| Ok::<_, u32>(n * 2), || 0).unwrap();
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_earliest_items_failure_is_returned() {
        let items: Vec<u32> = (0..20).collect();
        let result = for_each(
            &items,
            2,
            |n| if *n == 7 || *n == 12 { Err(*n) } else { Ok(*n) },
            || 0,
        );
        assert_eq!(result, Err(7));
    }
}
