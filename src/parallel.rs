//! Work spread over a few threads, for scans that are mostly kernel time (/proc renders each
//! process's files on demand) and whose items are independent.

/// Runs `work` on consecutive parts of `items` (at least `min_part` each) on up to four
/// threads, and returns the parts' results in order. The threads carry the caller's name, so
/// the Host's "still waiting on" report (by thread name) stays right under a deadline. A thread
/// that cannot be started leaves its part to the caller's; a panic in one is the caller's.
pub fn map_parts<T, R, F>(items: &[T], min_part: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> R + Sync,
{
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let part = items.len().div_ceil(workers).max(min_part).max(1);
    if items.len() <= part {
        return vec![work(items)];
    }
    let name = std::thread::current().name().map(str::to_string);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(part)
            .map(|chunk| {
                let mut builder = std::thread::Builder::new();
                if let Some(n) = &name {
                    builder = builder.name(n.clone());
                }
                builder
                    .spawn_scoped(scope, move || work(chunk))
                    .map_err(|_| chunk)
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                Err(chunk) => work(chunk),
            })
            .collect()
    })
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
