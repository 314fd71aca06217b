//! Work spread over a few threads, for scans that are mostly kernel time (/proc renders each
//! process's files on demand) and whose items are independent.

use std::sync::Mutex;

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
    match part_size(items.len(), min_part) {
        size if size >= items.len() => vec![work(items)],
        size => run_parts(items.chunks(size).collect(), work),
    }
}

/// [`map_parts`] for work that changes its items in place.
pub fn map_parts_mut<T, R, F>(items: &mut [T], min_part: usize, work: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(&mut [T]) -> R + Sync,
{
    match part_size(items.len(), min_part) {
        size if size >= items.len() => vec![work(items)],
        size => run_parts(items.chunks_mut(size).collect(), work),
    }
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// About eight parts per thread, small enough to even out, and none under `min_part`; all items
/// in one part when there are too few of them or only one thread.
fn part_size(len: usize, min_part: usize) -> usize {
    let workers = workers();
    if len <= min_part.max(1) || workers == 1 {
        return len;
    }
    len.div_ceil(workers * 8).max(min_part.max(1))
}

fn run_parts<P, R, F>(parts: Vec<P>, work: F) -> Vec<R>
where
    P: Send,
    R: Send,
    F: Fn(P) -> R + Sync,
{
    let count = parts.len();
    let queue = Mutex::new(parts.into_iter().enumerate());
    let take_parts = || {
        let mut done = Vec::new();
        loop {
            // A poisoned queue means another thread panicked: its panic is the caller's.
            let next = match queue.lock() {
                Ok(mut q) => q.next(),
                Err(_) => None,
            };
            let Some((i, part)) = next else {
                return done;
            };
            done.push((i, work(part)));
        }
    };
    let name = std::thread::current().name().map(str::to_string);
    let mut results: Vec<(usize, R)> = Vec::with_capacity(count);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers().min(count))
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
    use super::{map_parts, map_parts_mut};

    #[test]
    fn parts_come_back_in_order_and_cover_every_item() {
        let items: Vec<u32> = (0..10_000).collect();
        let parts = map_parts(&items, 100, |p| p.to_vec());
        assert_eq!(parts.concat(), items);
        assert_eq!(map_parts(&[] as &[u32], 10, <[u32]>::len), vec![0]);
    }

    #[test]
    fn mutable_parts_are_changed_in_place_and_counted_in_order() {
        let mut items: Vec<u32> = (0..10_000).collect();
        let lens = map_parts_mut(&mut items, 100, |p| {
            p.iter_mut().for_each(|x| *x *= 2);
            p.len()
        });
        assert_eq!(lens.iter().sum::<usize>(), 10_000);
        assert!(lens.len() > 1 || super::workers() == 1, "{lens:?}");
        assert!(items.iter().enumerate().all(|(i, x)| *x == 2 * i as u32));
        assert_eq!(
            map_parts_mut(&mut [] as &mut [u32], 10, |p| p.len()),
            vec![0]
        );
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
