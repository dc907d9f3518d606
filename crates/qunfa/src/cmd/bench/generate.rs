//! `qunfa bench gen`: a synthetic app's dictionaries and accounts as CSV files, the same for the
//! same command (a fixed random stream), with audiences of known sizes.

use std::io::{BufWriter, Write};

use anyhow::Context;

/// splitmix64: a fixed, dependency-free stream so the same command writes the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const PROVINCES: u64 = 34;
pub const CITIES: u64 = 10;
pub const TYPES: u64 = 40;

pub(super) fn generate(users: u64, dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut areas = BufWriter::new(std::fs::File::create(dir.join("areas.csv"))?);
    writeln!(areas, "areaid,name,parentid")?;
    for p in 1..=PROVINCES {
        writeln!(areas, "p{p:02},Province {p},")?;
        for c in 1..=CITIES {
            writeln!(areas, "p{p:02}c{c:02},City {c} of province {p},p{p:02}")?;
        }
    }
    areas.flush()?;
    let mut types = BufWriter::new(std::fs::File::create(dir.join("enterptypes.csv"))?);
    writeln!(types, "enterptypeid,name")?;
    for t in 1..=TYPES {
        writeln!(types, "t{t:02},Enterprise type {t}")?;
    }
    types.flush()?;

    let mut rng = Rng(0x5eed);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("users.csv"))?);
    writeln!(out, "accid,token,name,areaid,enterptypeid")?;
    for i in 0..users {
        // 10% in province 1 (half of them in its city 1), the rest spread evenly.
        let roll = rng.below(1000);
        let (p, c) = if roll < 50 {
            (1, 1)
        } else if roll < 100 {
            (1, 2 + rng.below(CITIES - 1))
        } else {
            (2 + rng.below(PROVINCES - 1), 1 + rng.below(CITIES))
        };
        let t = if rng.below(10) == 0 {
            1
        } else {
            2 + rng.below(TYPES - 1)
        };
        writeln!(out, "u{i:07},tok{i:07},User {i},p{p:02}c{c:02},t{t:02}")?;
    }
    out.flush()?;
    println!(
        "wrote {}/areas.csv ({} areas), enterptypes.csv ({TYPES} types), users.csv ({users} users)",
        dir.display(),
        PROVINCES * (CITIES + 1)
    );
    Ok(())
}
