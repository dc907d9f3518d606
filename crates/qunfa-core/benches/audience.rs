// Run: cargo bench -p qunfa-core --bench audience   (add `-- province` to filter by name)
//! `AudienceIndex::select` and `audience::encode` on in-memory indexes shaped like the data
//! `qunfa bench gen` writes (34 provinces × 10 cities, 40 types; province p01 ~10% of users,
//! city p01c01 ~5%, type t01 ~10%), for 1,000,000 and for 10,000 accounts. Results and how
//! they compare with the budget are in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use qunfa_core::account::Accid;
use qunfa_core::audience::{self, AudienceIndex, Selection};

const PROVINCES: u64 = 34;
const CITIES: u64 = 10;
const TYPES: u64 = 40;

/// The same splitmix64 stream, seed and draws as `qunfa bench gen`, so the same users land in
/// the same areas and types.
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

/// `users` accounts u0000000.. with ordinals 0.., plus the app's system account (hidden, as the
/// server creates it on the first targeted send) as the sender to exclude.
fn build(users: u64) -> (AudienceIndex, u32) {
    let mut ix = AudienceIndex::new();
    for p in 1..=PROVINCES {
        let province = format!("p{p:02}");
        ix.add_area(&province, None);
        for c in 1..=CITIES {
            ix.add_area(&format!("p{p:02}c{c:02}"), Some(&province));
        }
    }
    for t in 1..=TYPES {
        ix.add_type(&format!("t{t:02}"));
    }
    let mut rng = Rng(0x5eed);
    for i in 0..users {
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
        ix.upsert_account(
            qunfa_core::ids::Ordinal(i as u32),
            &format!("u{i:07}"),
            Some(&format!("p{p:02}c{c:02}")),
            Some(&format!("t{t:02}")),
            false,
        );
    }
    let system = users as u32;
    ix.upsert_account(
        qunfa_core::ids::Ordinal(system),
        "qunfa_system",
        None,
        None,
        false,
    );
    ix.set_system(qunfa_core::ids::Ordinal(system));
    (ix, system)
}

fn selections() -> Vec<(&'static str, Selection)> {
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let list = (0..500)
        .map(|i| Accid::parse(&format!("u{i:07}"), "toAccids").expect("valid accid"))
        .collect();
    vec![
        ("all", Selection::default()),
        (
            "province",
            Selection {
                areas: ids(&["p01"]),
                ..Default::default()
            },
        ),
        (
            "city+type",
            Selection {
                areas: ids(&["p01c01"]),
                types: ids(&["t01"]),
                ..Default::default()
            },
        ),
        (
            "list500",
            Selection {
                accids: Some(list),
                ..Default::default()
            },
        ),
    ]
}

fn bench_audience(c: &mut Criterion) {
    for users in [1_000_000u64, 10_000] {
        let (ix, system) = build(users);
        let label = if users >= 1_000_000 {
            format!("{}M", users / 1_000_000)
        } else {
            format!("{}k", users / 1000)
        };
        let mut group = c.benchmark_group(format!("audience/{label}"));
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for (name, sel) in selections() {
            let picked = ix
                .select(&sel, Some(qunfa_core::ids::Ordinal(system)))
                .expect("selection resolves");
            eprintln!(
                "{label} users, {name}: {} recipients, encoded {} bytes",
                picked.len(),
                audience::encode(&picked).len()
            );
            group.bench_with_input(BenchmarkId::new("select", name), &sel, |b, sel| {
                b.iter(|| ix.select(black_box(sel), Some(qunfa_core::ids::Ordinal(system))))
            });
            if name == "all" || name == "province" {
                group.bench_with_input(BenchmarkId::new("encode", name), &picked, |b, p| {
                    b.iter(|| audience::encode(black_box(p)))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_audience);
criterion_main!(benches);
