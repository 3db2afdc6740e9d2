//! Keeping at most so many bytes of what a child prints: the first `max` bytes are
//! kept, the rest is read (so the child never blocks on a full pipe), counted and
//! dropped, except the last few kilobytes (the end of stderr says why a program
//! failed). Memory stays bounded whatever the child prints.

use tokio::io::{AsyncRead, AsyncReadExt};

/// How much of the end is kept besides the first `max` bytes.
pub const TAIL: usize = 4096;

/// What was read from one stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes, up to the cap.
    pub head: Vec<u8>,
    /// The last [`TAIL`] bytes past the cap (empty when nothing was cut).
    pub tail: Vec<u8>,
    /// Every byte the stream carried.
    pub total: u64,
}

impl Captured {
    /// Bytes read but not kept in `head`.
    pub fn cut(&self) -> u64 {
        self.total - self.head.len() as u64
    }

    /// The kept text (lossy UTF-8), with a note of what was cut and why.
    pub fn text(&self, limit_name: &str) -> String {
        // Do not end in the middle of a UTF-8 sequence (the cut part counts it).
        let end = if self.cut() > 0 {
            complete_prefix(&self.head)
        } else {
            self.head.len()
        };
        let mut s = String::from_utf8_lossy(&self.head[..end]).into_owned();
        let cut = self.total - end as u64;
        if cut > 0 {
            s.push_str(&format!(
                "\n[… {} cut: {limit_name} keeps {}]",
                crate::text::count(cut, "more byte"),
                super::limits::bytes(self.head.len() as u64)
            ));
        }
        s
    }

    /// The last lines of the stream (for an error message): from the tail when
    /// the stream was cut, else from the kept text.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let bytes = if self.tail.is_empty() {
            &self.head
        } else {
            &self.tail
        };
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        lines[from..].iter().map(|l| l.to_string()).collect()
    }
}

/// The length of `b` without a UTF-8 sequence cut short at its end.
fn complete_prefix(b: &[u8]) -> usize {
    let len = b.len();
    // The last lead byte among the last three (a sequence is at most four bytes).
    for i in (len.saturating_sub(3)..len).rev() {
        let lead = b[i];
        if lead & 0xC0 == 0x80 {
            continue; // a continuation byte
        }
        let need = match lead {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if i + need > len { i } else { len };
    }
    len
}

/// Read `r` to its end, keeping the first `max` bytes and the last [`TAIL`].
pub async fn capture<R: AsyncRead + Unpin>(mut r: R, max: u64) -> std::io::Result<Captured> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let mut c = Captured::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        c.total += n as u64;
        let room = max.saturating_sub(c.head.len()).min(n);
        c.head.extend_from_slice(&buf[..room]);
        let rest = &buf[room..n];
        if !rest.is_empty() {
            c.tail.extend_from_slice(rest);
            if c.tail.len() > TAIL {
                let drop = c.tail.len() - TAIL;
                c.tail.drain(..drop);
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], max: u64) -> Captured {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(capture(input, max)).unwrap()
    }

    #[test]
    fn short_output_is_kept_whole() {
        let c = run(b"hello\n", 100);
        assert_eq!(c.text("limits.output"), "hello\n");
        assert_eq!(c.cut(), 0);
        assert!(c.tail.is_empty());
    }

    #[test]
    fn long_output_is_cut_with_a_note_and_keeps_its_end() {
        let mut input = Vec::new();
        for i in 0..100_000 {
            input.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let c = run(&input, 10);
        assert_eq!(c.total, input.len() as u64);
        assert_eq!(c.head, b"line 0\nlin");
        assert_eq!(
            c.text("limits.output"),
            format!(
                "line 0\nlin\n[… {} more bytes cut: limits.output keeps 10 bytes]",
                input.len() - 10
            )
        );
        assert_eq!(c.tail.len(), TAIL);
        assert_eq!(c.last_lines(2), vec!["line 99998", "line 99999"]);
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        // "é" is two bytes: a cap of 2 after "a" would split it.
        let c = run("aé and more".as_bytes(), 2);
        let t = c.text("limits.output");
        assert!(t.starts_with("a\n[… 11 more bytes cut"), "{t}");
    }
}
