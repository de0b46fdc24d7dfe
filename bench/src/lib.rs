//! What the benchmark binaries share: starting a real `jackal` process and talking to it,
//! percentiles, a small seeded random generator and facts about the machine.

pub mod floor;
pub mod pg_floor;
pub mod server;
pub mod stats;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A SplitMix64 generator: enough for picking operations and delays, and reproducible from the
/// seed a run prints.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A seed from the operating system's randomness (through a v4 UUID).
    pub fn random_seed() -> u64 {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A derived generator, for one worker.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` prints them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The file system a path lives on, from the longest matching mount in `/proc/mounts`.
pub fn filesystem_of(path: &std::path::Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "unknown".to_owned();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), format!("{kind} ({device} on {point})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".to_owned(), |(_, fs)| fs)
}

/// This process's nice value (field 19 of `/proc/self/stat`).
pub fn niceness() -> String {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The command name (field 2) may hold spaces; count fields after its ')'.
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().nth(16).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// CPU count, model and kernel, for the report's header.
pub fn machine_facts() -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    facts.push(("nproc".to_owned(), nproc.to_string()));
    if let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") {
        if let Some(model) = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
        {
            facts.push(("CPU".to_owned(), model.trim().to_owned()));
        }
    }
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        facts.push(("kernel".to_owned(), release.trim().to_owned()));
    }
    facts.push((
        "nice (this process and the jackal it starts)".to_owned(),
        niceness(),
    ));
    facts.push(("load average at start".to_owned(), load_average()));
    facts
}

/// A count option's parser that refuses values below `min`, naming the option in its error.
pub fn at_least(min: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(min..)
}
