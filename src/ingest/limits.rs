//! How much of one source blastdoor will hold or read: the longest line or record, the largest
//! decompressed size of one file, and the largest decompression ratio. `[limits]` in
//! `config.toml` changes them; over a limit the record or file is named (file and line), counted
//! and skipped, and what was read before it is kept. Memory stays bounded by them whatever an
//! attacker writes into a log or a compressed file.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

/// The limits in force, as `config.toml` `[limits]` sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest line, record or whole-file document (`max_record`), in bytes.
    #[serde(deserialize_with = "size")]
    pub max_record: u64,
    /// Most bytes read out of one compressed file once decompressed (`max_file`).
    #[serde(deserialize_with = "size")]
    pub max_file: u64,
    /// Most decompressed bytes per compressed byte of a `.gz` (`max_ratio`), checked once
    /// more than `ratio_from` bytes came out.
    #[serde(deserialize_with = "ratio")]
    pub max_ratio: u64,
    /// The ratio is not judged on a file's first bytes (small files compress unevenly): 16 MiB,
    /// not set by `config.toml` (the fuzz target lowers it to reach the check).
    #[serde(skip)]
    pub ratio_from: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // A CloudTrail delivery file is one line; AWS's are a few MB at most.
            max_record: 8 << 20,
            max_file: 4 << 30,
            // Real CloudTrail and audit logs compress 5-30 times; a bomb of zeros 1000 times.
            max_ratio: 100,
            ratio_from: 16 << 20,
        }
    }
}

impl Limits {
    /// `max_record` as a length in memory.
    pub fn record(&self) -> usize {
        usize::try_from(self.max_record).unwrap_or(usize::MAX)
    }
}

/// `max_record` as the engine was started with, for what a record carries inside it (base64
/// gzip in a CloudWatch Logs envelope): decoding a record has no `Limits` at hand, so the
/// engine sets it once here.
static NESTED_RECORD_MAX: AtomicU64 = AtomicU64::new(8 << 20);

/// The engine's `max_record`, for envelopes opened inside a record (see [`nested_record_max`]).
pub fn set_nested(limits: &Limits) {
    NESTED_RECORD_MAX.store(limits.max_record, Ordering::Relaxed);
}

/// Most bytes a base64 or gzip payload inside one record may expand to.
pub fn nested_record_max() -> u64 {
    NESTED_RECORD_MAX.load(Ordering::Relaxed)
}

/// A size as people write it: `8 MiB`, `512KB`, `4G` or a number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size: write e.g. \"8 MiB\", \"512 KB\" or 1048576"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    Ok((n * mult as f64) as u64)
}

/// A size in the unit it reads best in: `8 MiB`, `4 GiB`, `1500 B`.
pub fn show_size(n: u64) -> String {
    for (unit, m) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= m {
            let x = n as f64 / m as f64;
            return if n.is_multiple_of(m) {
                format!("{} {unit}", n / m)
            } else {
                format!("{x:.1} {unit}")
            };
        }
    }
    format!("{n} B")
}

fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    let n = match Size::deserialize(d)? {
        Size::Bytes(n) => n,
        Size::Text(s) => parse_size(&s).map_err(serde::de::Error::custom)?,
    };
    if n < 1024 {
        return Err(serde::de::Error::custom(format!(
            "{} is too small: give at least 1 KiB",
            show_size(n)
        )));
    }
    Ok(n)
}

fn ratio<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n < 2 {
        return Err(serde::de::Error::custom(
            "a ratio below 2 would refuse every compressed file: give e.g. 100",
        ));
    }
    Ok(n)
}

/// A limit a file went over while being read: the reader's error, which names the limit and
/// the key that raises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    /// More than `max_file` bytes came out of a compressed file.
    File { max: u64 },
    /// More than `max_ratio` bytes came out per compressed byte.
    Ratio { max: u64, out: u64, compressed: u64 },
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::File { max } => write!(
                f,
                "decompressed to more than {} ([limits] max_file in config.toml raises it)",
                show_size(*max)
            ),
            Exceeded::Ratio {
                max,
                out,
                compressed,
            } => write!(
                f,
                "decompresses {}:1 ({} from {}), more than [limits] max_ratio = {max} (a compression bomb? raise max_ratio in config.toml if not)",
                out / (*compressed).max(1),
                show_size(*out),
                show_size(*compressed)
            ),
        }
    }
}

impl std::error::Error for Exceeded {}

impl Exceeded {
    /// The limit behind a reader's error, if it was one.
    pub fn of(e: &io::Error) -> Option<&Exceeded> {
        e.get_ref().and_then(|x| x.downcast_ref::<Exceeded>())
    }
}

/// What comes out of a decompressor, stopped with [`Exceeded`] once it passes `max_file` or
/// `max_ratio` times the compressed bytes read so far (`compressed`, counted by the reader
/// under the decompressor).
pub struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    limits: Limits,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, compressed: Arc<AtomicU64>, limits: Limits) -> Bounded<R> {
        Bounded {
            inner,
            out: 0,
            compressed,
            limits,
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.limits.max_file.saturating_sub(self.out);
        if left == 0 {
            // Is there more? One byte tells, and says the file really is over.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(Exceeded::File {
                    max: self.limits.max_file,
                })),
            };
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let k = self.inner.read(&mut buf[..want])?;
        self.out += k as u64;
        let compressed = self.compressed.load(Ordering::Relaxed);
        if self.out > self.limits.ratio_from
            && self.out > compressed.saturating_mul(self.limits.max_ratio)
        {
            return Err(io::Error::other(Exceeded::Ratio {
                max: self.limits.max_ratio,
                out: self.out,
                compressed,
            }));
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("8 MiB"), Ok(8 << 20));
        assert_eq!(parse_size("512KB"), Ok(512_000));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("lots").unwrap_err().contains("MiB"));
        assert!(parse_size("3 parsecs").unwrap_err().contains("unit"));
        assert_eq!(show_size(8 << 20), "8 MiB");
        assert_eq!(show_size(1500), "1.5 KiB");
    }

    #[test]
    fn limits_come_from_toml_and_bad_ones_are_named() {
        let l: Limits = toml::from_str("max_record = \"1 MiB\"\nmax_ratio = 20").unwrap();
        assert_eq!(l.max_record, 1 << 20);
        assert_eq!(l.max_ratio, 20);
        assert_eq!(l.max_file, Limits::default().max_file);
        let e = toml::from_str::<Limits>("max_record = 10").unwrap_err();
        assert!(e.to_string().contains("at least 1 KiB"), "{e}");
        let e = toml::from_str::<Limits>("max_lines = 10").unwrap_err();
        assert!(e.to_string().contains("max_lines"), "{e}");
    }

    /// A decompressor stand-in: `n` zero bytes out for every byte "read" from the file.
    struct Bomb {
        ratio: u64,
        compressed: Arc<AtomicU64>,
        left: u64,
    }

    impl Read for Bomb {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let k = buf.len().min(self.left as usize);
            buf[..k].fill(0);
            self.left -= k as u64;
            self.compressed
                .fetch_add((k as u64).div_ceil(self.ratio), Ordering::Relaxed);
            Ok(k)
        }
    }

    fn drain(ratio: u64, size: u64, limits: Limits) -> (u64, Option<Exceeded>) {
        let compressed = Arc::new(AtomicU64::new(0));
        let bomb = Bomb {
            ratio,
            compressed: compressed.clone(),
            left: size,
        };
        let mut r = Bounded::new(bomb, compressed, limits);
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (total, None),
                Ok(k) => total += k as u64,
                Err(e) => return (total, Exceeded::of(&e).cloned()),
            }
        }
    }

    #[test]
    fn a_decompressed_file_stops_at_max_file_and_at_max_ratio() {
        let limits = Limits {
            max_file: 32 << 20,
            ..Limits::default()
        };
        // Ordinary data, under both limits, is read to its end.
        assert_eq!(drain(10, 20 << 20, limits), (20 << 20, None));
        // Exactly the limit is fine; one byte more is not.
        assert_eq!(drain(10, 32 << 20, limits), (32 << 20, None));
        let (read, e) = drain(10, (32 << 20) + 1, limits);
        assert_eq!(
            (read, e),
            (32 << 20, Some(Exceeded::File { max: 32 << 20 }))
        );
        // A bomb is stopped soon after the ratio starts to be judged.
        let (read, e) = drain(1000, 1 << 30, limits);
        assert!(matches!(e, Some(Exceeded::Ratio { max: 100, .. })), "{e:?}");
        assert!(read <= limits.ratio_from + (1 << 16), "{read}");
    }
}
