//! Running one job per item on a few threads, as pulls and pushes do with
//! layers: results come back in item order, and the first failure stops
//! the threads from taking more items and is returned.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// `job(item)` for every item on up to `threads` threads.
pub(crate) fn for_each<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    job: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let next = Mutex::new(items.iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<E>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(items.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some((i, item)) = next.lock().ok().and_then(|mut it| it.next()) else {
                        return;
                    };
                    match job(item) {
                        Ok(result) => {
                            if let Ok(mut slots) = results.lock() {
                                slots[i] = Some(result);
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Ok(Some(e)) = first_error.into_inner() {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order() {
        let items: Vec<u32> = (0..20).collect();
        let doubled = for_each(&items, 3, |n| Ok::<_, ()>(n * 2)).unwrap();
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_failure_is_returned() {
        let items: Vec<u32> = (0..20).collect();
        let result = for_each(&items, 2, |n| if *n == 7 { Err(*n) } else { Ok(*n) });
        assert_eq!(result, Err(7));
    }
}
