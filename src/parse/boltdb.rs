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
        let offset = id
            .checked_mul(page_size)
            .ok_or_else(|| damaged(format!("page {id} is past any file")))?;
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
            return Err(damaged(format!("page {id} runs past the end of the file")));
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
