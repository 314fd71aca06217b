//! Work spread over a few threads, for scans that are mostly kernel time (/proc renders each
//! process's files on demand) and whose items are independent.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `work` on consecutive parts of `items` on up to four threads (the caller's among them),
/// and returns the parts' results in order. Parts are handed out one at a time to whichever
/// thread is free, so a run of heavy items (a block of processes with large maps) does not
/// leave the other threads idle; `min_part` items and fewer are worked on the caller's thread
/// alone. The threads carry the caller's name, so the Host's "still waiting on" report (by
/// thread name) stays right under a deadline. A thread that cannot be started leaves its share
/// to the others; a panic in one is the caller's.
pub fn map_parts<T, R, F>(items: &[T], min_part: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> R + Sync,
{
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if items.len() <= min_part.max(1) || workers == 1 {
        return vec![work(items)];
    }
    // About 32 parts per thread: the last part is what one thread finishes alone while the
    // others are done, so parts are small (a dozen milliseconds of work at most); none is
    // under `min_part`.
    let parts: Vec<&[T]> = items
        .chunks(items.len().div_ceil(workers * 32).max(min_part.max(1)))
        .collect();
    let next = AtomicUsize::new(0);
    let take_parts = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(part) = parts.get(i) else {
                return done;
            };
            done.push((i, work(part)));
        }
    };
    let name = std::thread::current().name().map(str::to_string);
    let mut results: Vec<(usize, R)> = Vec::with_capacity(parts.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers)
            .filter_map(|_| {
                let mut builder = std::thread::Builder::new();
                if let Some(n) = &name {
                    builder = builder.name(n.clone());
                }
                builder.spawn_scoped(scope, take_parts).ok()
            })
            .collect();
        results.extend(take_parts());
        for h in handles {
            results.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::map_parts;

    #[test]
    fn parts_come_back_in_order_and_cover_every_item() {
        let items: Vec<u32> = (0..10_000).collect();
        let parts = map_parts(&items, 100, |p| p.to_vec());
        assert_eq!(parts.concat(), items);
        assert_eq!(map_parts(&[] as &[u32], 10, <[u32]>::len), vec![0]);
    }

    #[test]
    fn threads_carry_the_callers_name() {
        let items: Vec<u32> = (0..1000).collect();
        let names = std::thread::Builder::new()
            .name("check:demo".into())
            .spawn(move || {
                map_parts(&items, 10, |_| {
                    std::thread::current().name().map(str::to_string)
                })
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(
            names.iter().all(|n| n.as_deref() == Some("check:demo")),
            "{names:?}"
        );
    }
}
