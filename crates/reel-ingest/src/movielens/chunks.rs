//! Reading a file in big chunks cut at line breaks, parsing chunks in parallel and merging
//! the results in file order.
//!
//! ```text
//!   reader thread            parser thread (rayon)           calling thread
//!   read 4 MiB, cut at \n -> parse a window of chunks  ->   merge in order: dedupe,
//!   sha256 the bytes          in parallel                    build batches, Sink::emit
//! ```
//!
//! The three stages overlap and are joined by bounded channels, so memory stays flat and a
//! slow sink slows the reader down (backpressure). Parsing sees chunk-relative line numbers;
//! the merge knows how many lines came before and makes them absolute.
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::source::{SourceFile, modified_of};
use crate::{Error, Result};

/// A line longer than this stops the load: the file is not a MovieLens text file.
pub(crate) const MAX_LINE: usize = 64 << 20;

/// A run of whole lines of a file.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// The bytes: whole lines, the last one ending in `\n` unless it ends the file.
    pub data: Vec<u8>,
    /// 0 for the chunk holding line 1.
    pub index: u64,
}

/// Whether the merge wants more chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Runs one pass over `path`: `parse` on every chunk (in parallel), `merge` on every result
/// in file order (on the calling thread), with the number of bytes the chunk held.
///
/// With `hash`, the bytes go through SHA-256 as they are read and the [`SourceFile`] is
/// returned. A `merge` error or [`Flow::Stop`] ends the pass early (then no hash).
pub(crate) fn run<O, P, M>(
    path: &Path,
    chunk_bytes: usize,
    hash: bool,
    parse: P,
    merge: M,
) -> Result<Option<SourceFile>>
where
    O: Send,
    P: Fn(&Chunk) -> O + Sync,
    M: FnMut(O, u64) -> Result<Flow>,
{
    run_with_max_line(path, chunk_bytes, MAX_LINE, hash, parse, merge)
}

/// [`run`] with a chosen longest line (tests use a small one).
fn run_with_max_line<O, P, M>(
    path: &Path,
    chunk_bytes: usize,
    max_line: usize,
    hash: bool,
    parse: P,
    mut merge: M,
) -> Result<Option<SourceFile>>
where
    O: Send,
    P: Fn(&Chunk) -> O + Sync,
    M: FnMut(O, u64) -> Result<Flow>,
{
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let modified = modified_of(&file);
    let window = rayon::current_num_threads().clamp(1, 64) * 2;
    let chunk_bytes = chunk_bytes.max(1);

    std::thread::scope(|s| {
        let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(window);
        let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(window * 3);
        let (out_tx, out_rx) = mpsc::sync_channel::<Vec<(O, u64)>>(1);

        let reader = s.spawn(move || {
            read_chunks(file, path, chunk_bytes, max_line, hash, &chunk_tx, &pool_rx)
        });
        let parse = &parse;
        let parser = s.spawn(move || {
            loop {
                let mut win: Vec<Chunk> = Vec::with_capacity(window);
                while win.len() < window {
                    match chunk_rx.recv() {
                        Ok(c) => win.push(c),
                        Err(_) => break,
                    }
                }
                if win.is_empty() {
                    break;
                }
                let outs: Vec<(O, u64)> = win
                    .par_iter()
                    .map(|c| (parse(c), c.data.len() as u64))
                    .collect();
                for c in win {
                    // Hand the buffer back to the reader; if its pool is full, drop it.
                    let _ = pool_tx.try_send(c.data);
                }
                if out_tx.send(outs).is_err() {
                    break; // the merge stopped
                }
            }
        });

        let mut merged: Result<Flow> = Ok(Flow::Continue);
        'outer: for outs in out_rx.iter() {
            for (o, bytes) in outs {
                merged = merge(o, bytes);
                if !matches!(merged, Ok(Flow::Continue)) {
                    break 'outer;
                }
            }
        }
        drop(out_rx); // unblocks the parser, which then unblocks the reader
        let parsed = parser.join();
        let read = reader.join();
        let flow = merged?;
        if parsed.is_err() {
            return Err(Error::internal(format!(
                "the parser thread for {} panicked",
                path.display()
            )));
        }
        let read = read.map_err(|_| {
            Error::internal(format!("the reader thread for {} panicked", path.display()))
        })?;
        match (read, flow) {
            (Err(e), _) => Err(e),
            (Ok(_), Flow::Stop) => Ok(None),
            (Ok(Some((size, hasher))), Flow::Continue) => {
                Ok(Some(SourceFile::from_parts(path, size, hasher, modified)))
            }
            (Ok(None), Flow::Continue) => Ok(None),
        }
    })
}

/// Reads `file` into chunks of about `chunk_bytes` cut after a `\n`, sends them in order.
/// Returns the size and the hasher, or `None` if the receiver hung up first.
fn read_chunks(
    mut file: std::fs::File,
    path: &Path,
    chunk_bytes: usize,
    max_line: usize,
    hash: bool,
    tx: &mpsc::SyncSender<Chunk>,
    pool: &mpsc::Receiver<Vec<u8>>,
) -> Result<Option<(u64, Sha256)>> {
    let mut hasher = Sha256::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut size = 0u64;
    let mut offset = 0u64;
    let mut index = 0u64;
    let mut eof = false;
    while !eof {
        // A recycled buffer keeps its initialised length, so `resize` only zeroes the part
        // that was never used: no memset of every chunk.
        let mut buf = pool.try_recv().unwrap_or_default();
        let mut want = chunk_bytes
            .max(carry.len() + chunk_bytes / 2)
            .max(carry.len() + 1);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let Some(head) = buf.get_mut(..carry.len()) else {
            return Err(Error::internal(
                "chunk buffer shorter than the carried line",
            ));
        };
        head.copy_from_slice(&carry);
        let mut valid = carry.len();
        carry.clear();
        let cut = loop {
            while valid < want && !eof {
                let Some(spare) = buf.get_mut(valid..want) else {
                    break;
                };
                match file.read(spare) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        if hash {
                            hasher.update(spare.get(..n).unwrap_or_default());
                        }
                        valid += n;
                        size += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io("reading", path, e)),
                }
            }
            let filled = buf.get(..valid).unwrap_or_default();
            if eof {
                break valid;
            }
            if let Some(nl) = memchr::memrchr(b'\n', filled) {
                break nl + 1;
            }
            if valid > chunk_bytes.saturating_add(max_line) {
                return Err(Error::LineTooLong {
                    path: path.to_path_buf(),
                    offset,
                    limit_mib: (max_line >> 20) as u64,
                });
            }
            // No line break yet: a line longer than the chunk. Read on.
            want = want.saturating_mul(2);
            buf.resize(want, 0);
        };
        carry.extend_from_slice(buf.get(cut..valid).unwrap_or_default());
        buf.truncate(cut);
        if buf.is_empty() {
            continue;
        }
        offset += cut as u64;
        if tx.send(Chunk { data: buf, index }).is_err() {
            return Ok(None);
        }
        index += 1;
    }
    Ok(Some((size, hasher)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chunks_of(content: &[u8], chunk_bytes: usize) -> (Vec<Vec<u8>>, SourceFile) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        std::fs::write(&p, content).unwrap();
        let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
        let src = run(
            &p,
            chunk_bytes,
            true,
            |c: &Chunk| (c.index, c.data.clone()),
            |o, n| {
                assert_eq!(o.1.len() as u64, n);
                got.push(o);
                Ok(Flow::Continue)
            },
        )
        .unwrap()
        .unwrap();
        for (i, (idx, _)) in got.iter().enumerate() {
            assert_eq!(*idx, i as u64);
        }
        (got.into_iter().map(|(_, d)| d).collect(), src)
    }

    #[test]
    fn chunks_end_at_line_breaks_and_cover_the_file() {
        let content: Vec<u8> = (0..500)
            .flat_map(|i| format!("{i},{},x\n", i * 7).into_bytes())
            .collect();
        for size in [1, 5, 16, 100, 4096, 1 << 20] {
            let (chunks, src) = chunks_of(&content, size);
            assert_eq!(chunks.concat(), content, "chunk size {size}");
            for c in &chunks {
                assert_eq!(c.last(), Some(&b'\n'));
            }
            assert_eq!(src.size, content.len() as u64);
        }
    }

    #[test]
    fn last_line_without_break_and_empty_file() {
        let (chunks, _) = chunks_of(b"a\nbb\nccc", 2);
        assert_eq!(chunks.concat(), b"a\nbb\nccc");
        assert_eq!(chunks.last().unwrap(), b"ccc");
        let (chunks, src) = chunks_of(b"", 8);
        assert!(chunks.is_empty());
        assert_eq!(
            src.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hash_matches_a_plain_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        let content: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        std::fs::write(&p, &content).unwrap();
        let src = run(&p, 1000, true, |_c: &Chunk| (), |_, _| Ok(Flow::Continue))
            .unwrap()
            .unwrap();
        assert_eq!(src, SourceFile::try_from_path(&p).unwrap());
    }

    #[test]
    fn stopping_early_and_merge_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        let content: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        std::fs::write(&p, &content).unwrap();
        let mut seen = 0;
        let r = run(
            &p,
            64,
            true,
            |_c: &Chunk| (),
            |_, _| {
                seen += 1;
                Ok(if seen == 3 {
                    Flow::Stop
                } else {
                    Flow::Continue
                })
            },
        )
        .unwrap();
        assert!(r.is_none());
        assert_eq!(seen, 3);
        let err = run(
            &p,
            64,
            true,
            |_c: &Chunk| (),
            |_, _| Err(Error::internal("boom")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("boom"));
    }

    #[test]
    fn a_line_without_end_stops_the_pass() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        let mut content = b"short\n".to_vec();
        content.extend(std::iter::repeat_n(b'x', 10_000));
        content.extend(b"\nend\n");
        std::fs::write(&p, &content).unwrap();
        let err = run_with_max_line(
            &p,
            64,
            1000,
            true,
            |_c: &Chunk| (),
            |_, _| Ok(Flow::Continue),
        )
        .unwrap_err();
        assert!(matches!(err, Error::LineTooLong { offset: 6, .. }), "{err}");
        // Under the limit, a long line is read whole.
        let mut lines = 0;
        run_with_max_line(
            &p,
            64,
            100_000,
            true,
            |c: &Chunk| c.data.iter().filter(|&&b| b == b'\n').count(),
            |n, _| {
                lines += n;
                Ok(Flow::Continue)
            },
        )
        .unwrap();
        assert_eq!(lines, 3);
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = run(
            Path::new("/no/such.csv"),
            64,
            true,
            |_c: &Chunk| (),
            |_, _| Ok(Flow::Continue),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
