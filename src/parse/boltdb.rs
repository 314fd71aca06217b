//! BoltDB (bbolt) files, read-only: enough of the format to look keys up and walk buckets, as
//! libpod's `bolt_state.db` needs.
//!
//! Written here rather than taken from crates.io: bbolt-rs, the one maintained port, opens a path
//! with mmap and flock, carries the writer's machinery (and clap, rand, fake as dependencies) and
//! trusts the offsets it finds; the other bolt crates are unfinished or a format of their own
//! (jammdb). The doctor reads a file it did not write, through the Host (a mounted tree, pages
//! read one by one), while Podman may be writing it: every offset is checked against the page and
//! the file, every walk is bounded in depth and in bytes read, a page reached twice is an error,
//! and garbage is an [`Error`], never a panic.
//!
//! The format (go.etcd.io/bbolt v1.3: page.go, db.go, bucket.go): the file is pages of the size
//! meta page 0 names. Pages 0 and 1 are meta pages; the valid one (magic, version 2, FNV-1a
//! checksum) with the higher transaction id is current and names the root bucket's page and the
//! high-water mark. Every page starts with a 16-byte header (id u64, flags u16, count u16,
//! overflow u32) and spans overflow + 1 pages. A branch page holds `count` elements (pos u32,
//! ksize u32, child u64), a leaf page (flags u32, pos u32, ksize u32, vsize u32); an element's key
//! starts `pos` bytes past the element itself, a leaf's value right after its key. A leaf value
//! flagged as a bucket starts with the bucket header (root u64, sequence u64); root 0 is an inline
//! bucket, whose leaf page follows the header inside the value. Integers are in the writer's byte
//! order: little-endian everywhere Podman runs but s390x, whose files are reported as such.

use std::cell::Cell;
use std::collections::HashSet;

/// A file read at offsets (the Host gives one over a real file; a byte slice is one too).
pub trait ReadAt {
    /// Bytes in the file.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; a short read is an error (its reason).
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), String>;
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), String> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| format!("{} bytes at {offset}: past the end", buf.len()))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const HEADER: usize = 16;
const ELEMENT: usize = 16;
/// The meta fields up to the checksum, which covers them.
const META_SUMMED: usize = 56;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const BUCKET_LEAF: u32 = 0x01;
/// Levels of branch pages: a real tree of 2^48 pages is 48 deep at the very most.
const MAX_DEPTH: usize = 64;
/// Bytes of pages one reader may read: far beyond any libpod database's live tree, and a bound
/// on what a damaged file can make us read.
pub const MAX_READ: u64 = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not a BoltDB file: {0}")]
    NotBolt(String),
    #[error("damaged BoltDB file: {0}")]
    Damaged(String),
    #[error("{0}")]
    Read(String),
    #[error("more than {} MiB of pages to read", .0 >> 20)]
    TooLarge(u64),
}

fn damaged(why: impl Into<String>) -> Error {
    Error::Damaged(why.into())
}

/// The current meta page: what the last committed transaction left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: u64,
    pub txid: u64,
    root: u64,
    /// The first page id past the file's pages in use.
    high_water: u64,
}

/// A bucket: the root page of its tree, or its inline leaf page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    root: u64,
    inline: Option<Vec<u8>>,
}

/// A leaf's value: a nested bucket or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bucket(Bucket),
    Data(Vec<u8>),
}

impl Value {
    pub fn into_bucket(self) -> Option<Bucket> {
        match self {
            Value::Bucket(b) => Some(b),
            Value::Data(_) => None,
        }
    }

    pub fn into_data(self) -> Option<Vec<u8>> {
        match self {
            Value::Data(d) => Some(d),
            Value::Bucket(_) => None,
        }
    }
}

enum Node {
    Branch(Vec<(Vec<u8>, u64)>),
    Leaf(Vec<(Vec<u8>, Value)>),
}

/// An open database: its current meta page and the bytes read so far.
pub struct Db<'a, R: ReadAt + ?Sized> {
    src: &'a R,
    meta: Meta,
    read: Cell<u64>,
    limit: u64,
}

impl<'a, R: ReadAt + ?Sized> Db<'a, R> {
    /// Reads the meta pages and keeps the current one.
    pub fn open(src: &'a R) -> Result<Self, Error> {
        Self::with_limit(src, MAX_READ)
    }

    fn with_limit(src: &'a R, limit: u64) -> Result<Self, Error> {
        Ok(Db {
            src,
            meta: current_meta(src)?,
            read: Cell::new(0),
            limit,
        })
    }

    pub fn meta(&self) -> Meta {
        self.meta
    }

    /// The top-level bucket, whose keys name the database's buckets.
    pub fn root(&self) -> Bucket {
        Bucket {
            root: self.meta.root,
            inline: None,
        }
    }

    /// The value of `key` in `bucket`, descending its branch pages.
    pub fn get(&self, bucket: &Bucket, key: &[u8]) -> Result<Option<Value>, Error> {
        let mut node = self.root_node(bucket)?;
        for _ in 0..MAX_DEPTH {
            match node {
                Node::Leaf(entries) => {
                    return Ok(entries.into_iter().find(|(k, _)| k == key).map(|(_, v)| v));
                }
                Node::Branch(children) => {
                    // The last child whose first key is not above `key`: keys are sorted.
                    let i = children
                        .iter()
                        .rposition(|(k, _)| k.as_slice() <= key)
                        .unwrap_or(0);
                    let Some((_, child)) = children.get(i) else {
                        return Ok(None);
                    };
                    node = self.node_at(*child)?;
                }
            }
        }
        Err(damaged(format!("deeper than {MAX_DEPTH} levels")))
    }

    /// Every key of `bucket` with its value, in key order.
    pub fn entries(&self, bucket: &Bucket) -> Result<Vec<(Vec<u8>, Value)>, Error> {
        let mut seen = HashSet::new();
        if bucket.inline.is_none() {
            seen.insert(bucket.root);
        }
        let mut out = Vec::new();
        self.collect(self.root_node(bucket)?, 0, &mut seen, &mut out)?;
        Ok(out)
    }

    fn collect(
        &self,
        node: Node,
        depth: usize,
        seen: &mut HashSet<u64>,
        out: &mut Vec<(Vec<u8>, Value)>,
    ) -> Result<(), Error> {
        match node {
            Node::Leaf(entries) => out.extend(entries),
            Node::Branch(children) => {
                if depth >= MAX_DEPTH {
                    return Err(damaged(format!("deeper than {MAX_DEPTH} levels")));
                }
                for (_, id) in children {
                    if !seen.insert(id) {
                        return Err(damaged(format!("page {id} is reached twice")));
                    }
                    let child = self.node_at(id)?;
                    self.collect(child, depth + 1, seen, out)?;
                }
            }
        }
        Ok(())
    }

    fn root_node(&self, bucket: &Bucket) -> Result<Node, Error> {
        match &bucket.inline {
            Some(page) => match node(page, "an inline bucket")? {
                Node::Branch(_) => Err(damaged("an inline bucket is not a leaf page")),
                leaf => Ok(leaf),
            },
            None => self.node_at(bucket.root),
        }
    }

    fn node_at(&self, id: u64) -> Result<Node, Error> {
        let page = self.page(id)?;
        node(&page, &format!("page {id}"))
    }

    /// Page `id` with its overflow pages, after checking its header.
    fn page(&self, id: u64) -> Result<Vec<u8>, Error> {
        let Meta {
            page_size,
            high_water,
            ..
        } = self.meta;
        if id < 2 || id >= high_water {
            return Err(damaged(format!(
                "page {id} is not in the tree (pages 2 to {})",
                high_water.saturating_sub(1)
            )));
        }
        let past_end = || damaged(format!("page {id} runs past the end of the file"));
        let offset = id
            .checked_mul(page_size)
            .filter(|o| o.saturating_add(HEADER as u64) <= self.src.size())
            .ok_or_else(past_end)?;
        let mut head = [0u8; HEADER];
        self.fetch(&mut head, offset)?;
        let marked = le_u64(&head, 0);
        if marked != id {
            return Err(damaged(format!("page {id} is marked as page {marked}")));
        }
        let overflow = u64::from(le_u32(&head, 12));
        let len = overflow
            .checked_add(1)
            .and_then(|n| n.checked_mul(page_size))
            .filter(|_| {
                id.checked_add(overflow)
                    .is_some_and(|last| last < high_water)
            })
            .ok_or_else(|| {
                damaged(format!(
                    "page {id}'s {overflow} overflow pages run past the high-water mark"
                ))
            })?;
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.src.size())
        {
            return Err(past_end());
        }
        let total = self.read.get().saturating_add(len);
        if total > self.limit {
            return Err(Error::TooLarge(self.limit));
        }
        self.read.set(total);
        let len = usize::try_from(len).map_err(|_| Error::TooLarge(self.limit))?;
        let mut page = vec![0u8; len];
        self.fetch(&mut page, offset)?;
        Ok(page)
    }

    fn fetch(&self, buf: &mut [u8], offset: u64) -> Result<(), Error> {
        self.src.read_exact_at(buf, offset).map_err(Error::Read)
    }
}

/// The valid meta page with the higher transaction id. Page 1 is found at the page size page 0
/// names; when page 0 is damaged, at the first page size whose meta page names itself.
fn current_meta<R: ReadAt + ?Sized>(src: &R) -> Result<Meta, Error> {
    let first = meta_at(src, 0);
    let second = match &first {
        Ok(m) => meta_at(src, m.page_size),
        Err(e) => (9..=16)
            .map(|shift| 1u64 << shift)
            .filter_map(|size| meta_at(src, size).ok().filter(|m| m.page_size == size))
            .next()
            .ok_or_else(|| e.clone()),
    };
    match (first, second) {
        (Ok(a), Ok(b)) => Ok(if b.txid > a.txid { b } else { a }),
        (Ok(m), Err(_)) | (Err(_), Ok(m)) => Ok(m),
        (Err(e), Err(_)) => Err(e),
    }
}

fn meta_at<R: ReadAt + ?Sized>(src: &R, offset: u64) -> Result<Meta, Error> {
    let mut buf = [0u8; HEADER + META_SUMMED + 8];
    src.read_exact_at(&mut buf, offset)
        .map_err(|_| Error::NotBolt(format!("{} bytes, too short", src.size())))?;
    let m = &buf[HEADER..];
    let magic = le_u32(m, 0);
    if magic == MAGIC.swap_bytes() {
        return Err(Error::NotBolt(
            "written on a big-endian machine (s390x): its byte order is not read here".into(),
        ));
    }
    if magic != MAGIC {
        return Err(Error::NotBolt(format!("no BoltDB magic at byte {offset}")));
    }
    let version = le_u32(m, 4);
    if version != VERSION {
        return Err(Error::NotBolt(format!(
            "format version {version}, this reader knows {VERSION}"
        )));
    }
    let checksum = le_u64(m, META_SUMMED);
    if checksum != 0 && checksum != fnv1a64(&m[..META_SUMMED]) {
        return Err(damaged(format!(
            "the meta page at byte {offset} fails its checksum"
        )));
    }
    let page_size = u64::from(le_u32(m, 8));
    let root = le_u64(m, 16);
    let high_water = le_u64(m, 40);
    if !page_size.is_power_of_two() || !(512..=1 << 20).contains(&page_size) {
        return Err(damaged(format!("page size {page_size}")));
    }
    if root < 2 || root >= high_water {
        return Err(damaged(format!(
            "root page {root} is outside the {high_water} pages in use"
        )));
    }
    Ok(Meta {
        page_size,
        txid: le_u64(m, 48),
        root,
        high_water,
    })
}

/// A branch or leaf page's elements; `what` names the page in errors.
fn node(page: &[u8], what: &str) -> Result<Node, Error> {
    let flags = le_u16(page, 8);
    let count = usize::from(le_u16(page, 10));
    if page.len() < HEADER || HEADER + count * ELEMENT > page.len() {
        return Err(damaged(format!(
            "{what}: {count} elements do not fit in {} bytes",
            page.len()
        )));
    }
    let element = |i: usize| HEADER + i * ELEMENT;
    // `len` bytes `pos` past the element at `at`.
    let slice = |at: usize, pos: u32, len: u32| {
        let start = at.checked_add(pos as usize)?;
        page.get(start..start.checked_add(len as usize)?)
    };
    let past = |i: usize| damaged(format!("{what}: element {i} runs past the page"));
    match flags {
        BRANCH => (0..count)
            .map(|i| {
                let at = element(i);
                let key =
                    slice(at, le_u32(page, at), le_u32(page, at + 4)).ok_or_else(|| past(i))?;
                Ok((key.to_vec(), le_u64(page, at + 8)))
            })
            .collect::<Result<_, _>>()
            .map(Node::Branch),
        LEAF => (0..count)
            .map(|i| {
                let at = element(i);
                let (flags, pos) = (le_u32(page, at), le_u32(page, at + 4));
                let (ksize, vsize) = (le_u32(page, at + 8), le_u32(page, at + 12));
                let key = slice(at, pos, ksize).ok_or_else(|| past(i))?;
                let value = pos
                    .checked_add(ksize)
                    .and_then(|vpos| slice(at, vpos, vsize))
                    .ok_or_else(|| past(i))?;
                let value = if flags & BUCKET_LEAF != 0 {
                    Value::Bucket(bucket(value).ok_or_else(|| {
                        damaged(format!("{what}: bucket {i} has a {vsize}-byte header"))
                    })?)
                } else {
                    Value::Data(value.to_vec())
                };
                Ok((key.to_vec(), value))
            })
            .collect::<Result<_, _>>()
            .map(Node::Leaf),
        other => Err(damaged(format!(
            "{what} is not a branch or leaf page (flags {other:#x})"
        ))),
    }
}

/// A bucket from its leaf value: the header, then for an inline bucket its page.
fn bucket(value: &[u8]) -> Option<Bucket> {
    let root = le_u64(value.get(..16)?, 0);
    let inline = if root == 0 {
        Some(value.get(16..).filter(|p| p.len() >= HEADER)?.to_vec())
    } else {
        None
    };
    Some(Bucket { root, inline })
}

/// FNV-1a, 64 bits: bbolt's meta checksum.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Hand-built BoltDB files for tests, laid out as bbolt v1.3 writes them (page.go, db.go).
#[cfg(test)]
pub(crate) mod build {
    /// One leaf entry.
    pub enum Entry<'a> {
        Data(&'a [u8], &'a [u8]),
        /// A bucket whose tree starts at a page.
        Bucket(&'a [u8], u64),
        /// An inline bucket: its leaf page inside the value.
        Inline(&'a [u8], Vec<Entry<'a>>),
    }

    pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

    /// Pages by id; 0 and 1 are the meta pages, 2 the (empty) freelist.
    pub struct File {
        pub page_size: usize,
        pages: Vec<Vec<u8>>,
    }

    fn header(id: u64, flags: u16, count: usize, overflow: u32) -> Vec<u8> {
        let mut h = id.to_le_bytes().to_vec();
        h.extend(flags.to_le_bytes());
        h.extend((count as u16).to_le_bytes());
        h.extend(overflow.to_le_bytes());
        h
    }

    /// A leaf page's bytes, unpadded: header, elements, then keys and values.
    pub fn leaf_bytes(id: u64, entries: &[Entry], overflow: u32) -> Vec<u8> {
        let mut page = header(id, 0x02, entries.len(), overflow);
        let mut data = Vec::new();
        let base = 16 + 16 * entries.len();
        for (i, e) in entries.iter().enumerate() {
            let (flags, key, value) = match e {
                Entry::Data(k, v) => (0u32, *k, v.to_vec()),
                Entry::Bucket(k, root) => {
                    let mut v = root.to_le_bytes().to_vec();
                    v.extend(0u64.to_le_bytes());
                    (1, *k, v)
                }
                Entry::Inline(k, inner) => {
                    let mut v = vec![0u8; 16];
                    v.extend(leaf_bytes(0, inner, 0));
                    (1, *k, v)
                }
            };
            let pos = base + data.len() - (16 + 16 * i);
            page.extend(flags.to_le_bytes());
            page.extend((pos as u32).to_le_bytes());
            page.extend((key.len() as u32).to_le_bytes());
            page.extend((value.len() as u32).to_le_bytes());
            data.extend(key);
            data.extend(value);
        }
        page.extend(data);
        page
    }

    impl File {
        pub fn new(page_size: usize) -> Self {
            let mut f = File {
                page_size,
                pages: vec![Vec::new(), Vec::new()],
            };
            f.push(header(2, 0x10, 0, 0));
            f
        }

        /// The next page id.
        pub fn next_id(&self) -> u64 {
            self.pages.len() as u64
        }

        /// Adds a page (spanning as many pages as it needs, the rest as overflow); its id.
        pub fn push(&mut self, bytes: Vec<u8>) -> u64 {
            let id = self.next_id();
            let span = bytes.len().div_ceil(self.page_size).max(1);
            let mut padded = bytes;
            padded.resize(span * self.page_size, 0);
            self.pages.push(padded);
            for _ in 1..span {
                self.pages.push(Vec::new());
            }
            id
        }

        pub fn leaf(&mut self, entries: &[Entry]) -> u64 {
            let id = self.next_id();
            let len = leaf_bytes(id, entries, 0).len();
            let overflow = (len.div_ceil(self.page_size).max(1) - 1) as u32;
            self.push(leaf_bytes(id, entries, overflow))
        }

        pub fn branch(&mut self, children: &[(&[u8], u64)]) -> u64 {
            let id = self.next_id();
            let mut page = header(id, 0x01, children.len(), 0);
            let mut data: Vec<u8> = Vec::new();
            let base = 16 + 16 * children.len();
            for (i, (key, child)) in children.iter().enumerate() {
                let pos = base + data.len() - (16 + 16 * i);
                page.extend((pos as u32).to_le_bytes());
                page.extend((key.len() as u32).to_le_bytes());
                page.extend(child.to_le_bytes());
                data.extend(*key);
            }
            page.extend(data);
            self.push(page)
        }

        /// A meta page's bytes (checksummed as bbolt does).
        pub fn meta(&self, id: u64, root: u64, txid: u64) -> Vec<u8> {
            let mut m = header(id, 0x04, 0, 0);
            m.extend(0xED0C_DAEDu32.to_le_bytes());
            m.extend(2u32.to_le_bytes());
            m.extend((self.page_size as u32).to_le_bytes());
            m.extend(0u32.to_le_bytes());
            m.extend(root.to_le_bytes());
            m.extend(0u64.to_le_bytes());
            m.extend(2u64.to_le_bytes());
            m.extend(self.next_id().to_le_bytes());
            m.extend(txid.to_le_bytes());
            let sum = m[16..72].iter().fold(FNV_OFFSET, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
            });
            m.extend(sum.to_le_bytes());
            m
        }

        /// The file, with meta page 0 at (root0, txid0) and meta page 1 at (root1, txid1).
        pub fn finish_with(mut self, metas: [(u64, u64); 2]) -> Vec<u8> {
            for (i, (root, txid)) in metas.into_iter().enumerate() {
                let mut m = self.meta(i as u64, root, txid);
                m.resize(self.page_size, 0);
                self.pages[i] = m;
            }
            self.pages.concat()
        }

        /// The file with both meta pages naming `root`, page 1 the newer.
        pub fn finish(self, root: u64) -> Vec<u8> {
            self.finish_with([(root, 1), (root, 2)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::{Entry, File};
    use super::*;

    /// Everything the reader walks: a bucket over a branch page and two leaves (one value with
    /// overflow pages), an inline bucket, plain values at the top.
    fn sample() -> (Vec<u8>, Vec<u8>) {
        let mut f = File::new(4096);
        let big = vec![b'x'; 10_000];
        let left = f.leaf(&[Entry::Data(b"a1", b"one"), Entry::Data(b"a2", &big)]);
        let right = f.leaf(&[Entry::Data(b"m1", b"mid"), Entry::Data(b"z9", b"last")]);
        let tree = f.branch(&[(b"a1", left), (b"m1", right)]);
        let root = f.leaf(&[
            Entry::Data(b"plain", b"value"),
            Entry::Bucket(b"tree", tree),
            Entry::Inline(
                b"tiny",
                vec![Entry::Data(b"k", b"v"), Entry::Data(b"k2", b"v2")],
            ),
        ]);
        (f.finish(root), big)
    }

    fn data(v: Option<Value>) -> Option<Vec<u8>> {
        v.and_then(Value::into_data)
    }

    #[test]
    fn reads_buckets_nested_inline_over_branches_and_overflow_pages() {
        let (file, big) = sample();
        let db = Db::open(file.as_slice()).unwrap();
        assert_eq!(db.meta().page_size, 4096);
        assert_eq!(db.meta().txid, 2);
        let root = db.root();
        assert_eq!(
            data(db.get(&root, b"plain").unwrap()),
            Some(b"value".to_vec())
        );
        assert_eq!(db.get(&root, b"absent").unwrap(), None);
        let tree = db
            .get(&root, b"tree")
            .unwrap()
            .unwrap()
            .into_bucket()
            .unwrap();
        // Each leaf reached through the branch, below, at and above its first key.
        assert_eq!(data(db.get(&tree, b"a1").unwrap()), Some(b"one".to_vec()));
        assert_eq!(data(db.get(&tree, b"a2").unwrap()), Some(big.clone()));
        assert_eq!(data(db.get(&tree, b"m1").unwrap()), Some(b"mid".to_vec()));
        assert_eq!(data(db.get(&tree, b"z9").unwrap()), Some(b"last".to_vec()));
        assert_eq!(db.get(&tree, b"0").unwrap(), None);
        assert_eq!(db.get(&tree, b"zz").unwrap(), None);
        let keys: Vec<Vec<u8>> = db
            .entries(&tree)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [&b"a1"[..], b"a2", b"m1", b"z9"]);
        let tiny = db
            .get(&root, b"tiny")
            .unwrap()
            .unwrap()
            .into_bucket()
            .unwrap();
        assert_eq!(data(db.get(&tiny, b"k2").unwrap()), Some(b"v2".to_vec()));
        assert_eq!(db.entries(&tiny).unwrap().len(), 2);
        // A value is no bucket, a bucket no value.
        assert!(
            db.get(&root, b"plain")
                .unwrap()
                .unwrap()
                .into_bucket()
                .is_none()
        );
        assert!(
            db.get(&root, b"tree")
                .unwrap()
                .unwrap()
                .into_data()
                .is_none()
        );
    }

    #[test]
    fn the_newer_valid_meta_page_is_current() {
        let mut f = File::new(4096);
        let old = f.leaf(&[Entry::Data(b"v", b"old")]);
        let new = f.leaf(&[Entry::Data(b"v", b"new")]);
        let value = |file: &[u8]| {
            let db = Db::open(file)?;
            Ok::<_, Error>(data(db.get(&db.root(), b"v")?))
        };
        let file = f.finish_with([(old, 7), (new, 8)]);
        assert_eq!(value(&file).unwrap(), Some(b"new".to_vec()));
        // Page 0 newer this time.
        let mut f = File::new(4096);
        let new0 = f.leaf(&[Entry::Data(b"v", b"new")]);
        let old1 = f.leaf(&[Entry::Data(b"v", b"old")]);
        assert_eq!(
            value(&f.finish_with([(new0, 9), (old1, 8)])).unwrap(),
            Some(b"new".to_vec())
        );
        // A torn write of the newer meta page: its checksum fails, the older one is current.
        let mut torn = file.clone();
        torn[4096 + 16 + 48] ^= 0xff; // its txid
        assert_eq!(value(&torn).unwrap(), Some(b"old".to_vec()));
        // Both torn: no current state.
        torn[16 + 48] ^= 0xff;
        let e = value(&torn).unwrap_err();
        assert!(e.to_string().contains("fails its checksum"), "{e}");
        // A checksum of 0 is not checked (files from bbolt before checksums).
        let mut unsummed = file.clone();
        unsummed[4096 + 16 + 56..4096 + 16 + 64].fill(0);
        unsummed[4096 + 16 + 48] = 9;
        assert_eq!(value(&unsummed).unwrap(), Some(b"new".to_vec()));
    }

    #[test]
    fn a_damaged_first_meta_page_leaves_the_page_size_to_the_second() {
        let mut f = File::new(512);
        let root = f.leaf(&[Entry::Data(b"k", b"small pages")]);
        let mut file = f.finish(root);
        file[16..20].fill(0);
        let db = Db::open(file.as_slice()).unwrap();
        assert_eq!(db.meta().page_size, 512);
        assert_eq!(
            data(db.get(&db.root(), b"k").unwrap()),
            Some(b"small pages".to_vec())
        );
    }

    #[test]
    fn what_is_not_a_bolt_file_says_why() {
        let (file, _) = sample();
        let err = |bytes: &[u8]| {
            Db::open(bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(b"").contains("0 bytes, too short"));
        assert!(err(&[0u8; 8192]).contains("no BoltDB magic"));
        assert!(err(b"SQLite format 3\0 and the rest of a page").contains("not a BoltDB file"));
        let mut v3 = file.clone();
        for base in [0, 4096] {
            v3[base + 20] = 3;
        }
        assert!(err(&v3).contains("format version 3"), "{}", err(&v3));
        let mut big_endian = file.clone();
        for base in [0, 4096] {
            big_endian[base + 16..base + 20].copy_from_slice(&MAGIC.to_be_bytes());
        }
        assert!(err(&big_endian).contains("big-endian"));
        // Meta pages alone, the pages they name cut off.
        let db = Db::open(&file[..8192]).unwrap();
        let e = db.get(&db.root(), b"plain").unwrap_err().to_string();
        assert!(e.contains("runs past the end of the file"), "{e}");
    }

    /// A page of the sample rewritten in place.
    fn patched(f: impl FnOnce(&mut Vec<u8>)) -> Result<Vec<(Vec<u8>, Value)>, Error> {
        let (mut file, _) = sample();
        f(&mut file);
        let db = Db::open(file.as_slice())?;
        let tree = db
            .get(&db.root(), b"tree")?
            .and_then(Value::into_bucket)
            .ok_or(Error::Read("no tree".into()))?;
        db.entries(&tree)
    }

    /// The sample's pages: 3 the left leaf (4 and 5 its overflow), 6 the right leaf, 7 the
    /// branch, 8 the root.
    const LEFT: usize = 3 * 4096;
    const BRANCH_PAGE: usize = 7 * 4096;
    const ROOT_PAGE: usize = 8 * 4096;

    #[test]
    fn garbage_in_pages_is_an_error_never_a_panic() {
        assert!(patched(|_| {}).is_ok());
        // The branch names itself as a child: a cycle.
        let cycle =
            patched(|f| f[BRANCH_PAGE + 24..BRANCH_PAGE + 32].copy_from_slice(&7u64.to_le_bytes()));
        assert!(cycle.unwrap_err().to_string().contains("reached twice"));
        // A page that says it is another.
        let moved = patched(|f| f[LEFT] = 9).unwrap_err().to_string();
        assert!(moved.contains("page 3 is marked as page 9"), "{moved}");
        // A key far past its page.
        let past = patched(|f| f[LEFT + 20..LEFT + 24].copy_from_slice(&u32::MAX.to_le_bytes()));
        assert!(
            past.unwrap_err()
                .to_string()
                .contains("element 0 runs past the page")
        );
        // More elements than the page holds.
        let count = patched(|f| f[LEFT + 10..LEFT + 12].copy_from_slice(&u16::MAX.to_le_bytes()));
        assert!(count.unwrap_err().to_string().contains("do not fit"));
        // Overflow beyond the pages in use, and a child beyond them.
        let over = patched(|f| f[LEFT + 12..LEFT + 16].copy_from_slice(&u32::MAX.to_le_bytes()));
        assert!(over.unwrap_err().to_string().contains("high-water mark"));
        let far = patched(|f| {
            f[BRANCH_PAGE + 24..BRANCH_PAGE + 32].copy_from_slice(&u64::MAX.to_le_bytes())
        });
        assert!(far.unwrap_err().to_string().contains("is not in the tree"));
        // A freelist page where a leaf should be.
        let kind = patched(|f| f[LEFT + 8] = 0x10).unwrap_err().to_string();
        assert!(
            kind.contains("not a branch or leaf page (flags 0x10)"),
            "{kind}"
        );
    }

    #[test]
    fn a_tree_deeper_than_any_real_one_is_refused() {
        // Branch pages each naming the next, 70 deep.
        let mut f = File::new(512);
        let leaf = f.leaf(&[Entry::Data(b"k", b"v")]);
        let mut top = leaf;
        for _ in 0..70 {
            top = f.branch(&[(b"k", top)]);
        }
        let root = f.leaf(&[Entry::Bucket(b"deep", top)]);
        let file = f.finish(root);
        let db = Db::open(file.as_slice()).unwrap();
        let deep = db
            .get(&db.root(), b"deep")
            .unwrap()
            .unwrap()
            .into_bucket()
            .unwrap();
        assert!(
            db.get(&deep, b"k")
                .unwrap_err()
                .to_string()
                .contains("deeper than 64")
        );
        assert!(
            db.entries(&deep)
                .unwrap_err()
                .to_string()
                .contains("deeper than 64")
        );
    }

    #[test]
    fn reading_is_bounded_in_bytes() {
        let (file, _) = sample();
        let db = Db::with_limit(file.as_slice(), 3 * 4096).unwrap();
        let tree = db
            .get(&db.root(), b"tree")
            .unwrap()
            .unwrap()
            .into_bucket()
            .unwrap();
        assert_eq!(db.entries(&tree).unwrap_err(), Error::TooLarge(3 * 4096));
    }

    /// Walks everything reachable, as a reader of a damaged file would.
    fn walk(file: &[u8]) {
        let Ok(db) = Db::open(file) else { return };
        let mut todo = vec![db.root()];
        let mut buckets = 0;
        while let Some(b) = todo.pop() {
            buckets += 1;
            if buckets > 16 {
                return;
            }
            let _ = db.get(&b, b"a2");
            let _ = db.get(&b, b"zz");
            if let Ok(entries) = db.entries(&b) {
                todo.extend(entries.into_iter().filter_map(|(_, v)| v.into_bucket()));
            }
        }
    }

    /// xorshift64: reproducible noise without a dependency.
    fn noise(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn random_pages_behind_valid_meta_pages_never_panic() {
        // Pages that pass the first checks (their own id, a branch or leaf flag, a small count)
        // with random elements, so the element and bucket paths see the garbage.
        let mut next = noise(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let mut f = File::new(512);
            let pages = 1 + next() % 6;
            for _ in 0..pages {
                let mut page: Vec<u8> = (0..512).map(|_| next() as u8).collect();
                page[..8].copy_from_slice(&f.next_id().to_le_bytes());
                page[8..10]
                    .copy_from_slice(&[[1, 0], [2, 0], [2, 0], [0x10, 0]][(next() % 4) as usize]);
                let count = (next() % 30) as usize;
                page[10..12].copy_from_slice(&(count as u16).to_le_bytes());
                page[12..16].fill(0);
                // Elements whose offsets and sizes land near the page, children near the tree.
                for at in (0..count).map(|i| 16 + 16 * i) {
                    let fields = if page[8] == 1 {
                        let child = 2 + next() % (pages + 3);
                        [(next() % 512) as u32, (next() % 32) as u32, child as u32, 0]
                    } else {
                        let sizes = [(next() % 64) as u32, (next() % 64) as u32];
                        [
                            (next() % 2) as u32,
                            (next() % 512) as u32,
                            sizes[0],
                            sizes[1],
                        ]
                    };
                    for (j, v) in fields.iter().enumerate() {
                        page[at + 4 * j..at + 4 * j + 4].copy_from_slice(&v.to_le_bytes());
                    }
                }
                f.push(page);
            }
            let root = 3 + next() % pages;
            walk(&f.finish(root));
        }
    }

    #[test]
    fn corrupted_files_never_panic() {
        let (file, _) = sample();
        // Every byte of the pages that matter, set to values that stress offsets and counts.
        let live: Vec<usize> = (0..80)
            .chain(4096..4096 + 80)
            .chain(LEFT..LEFT + 200)
            .chain(6 * 4096..6 * 4096 + 80)
            .chain(BRANCH_PAGE..BRANCH_PAGE + 80)
            .chain(ROOT_PAGE..ROOT_PAGE + 200)
            .collect();
        for &i in &live {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut f = file.clone();
                f[i] = v;
                walk(&f);
            }
        }
        // And random bytes at random places, several at a time, and random truncations.
        let mut next = noise(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut f = file.clone();
            for _ in 0..(next() % 8 + 1) {
                let i = live[(next() % live.len() as u64) as usize];
                f[i] = next() as u8;
            }
            if next().is_multiple_of(5) {
                f.truncate((next() % file.len() as u64) as usize);
            }
            walk(&f);
        }
    }
}
