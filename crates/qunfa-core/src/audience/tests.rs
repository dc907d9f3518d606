//! Tests of the audience index (selection by list, area tree and type, hidden accounts,
//! dictionary changes), of the bitmap encoding, and a proptest against a naive model.

use super::*;
use proptest::prelude::*;

fn accid(s: &str) -> Accid {
    Accid::parse(s, "accid").unwrap()
}

#[test]
fn areas_include_descendants_and_hidden_accounts_are_left_out() {
    let mut ix = AudienceIndex::new();
    ix.add_area("37", None);
    ix.add_area("3701", Some("37"));
    ix.add_area("370102", Some("3701"));
    ix.add_area("44", None);
    ix.add_type("food");
    ix.upsert_account(Ordinal(0), "a", Some("370102"), Some("food"), false);
    ix.upsert_account(Ordinal(1), "b", Some("3701"), None, false);
    ix.upsert_account(Ordinal(2), "c", Some("44"), Some("food"), false);
    ix.upsert_account(Ordinal(3), "d", Some("37"), Some("food"), true);
    ix.upsert_account(Ordinal(4), "sys", None, None, false);
    ix.set_system(Ordinal(4));
    let sel = |areas: &[&str], types: &[&str]| Selection {
        accids: None,
        areas: areas.iter().map(|s| s.to_string()).collect(),
        types: types.iter().map(|s| s.to_string()).collect(),
    };
    let v = |b: RoaringBitmap| b.iter().collect::<Vec<_>>();
    assert_eq!(v(ix.select(&sel(&[], &[]), None).unwrap()), [0, 1, 2]);
    assert_eq!(v(ix.select(&sel(&["37"], &[]), None).unwrap()), [0, 1]);
    assert_eq!(v(ix.select(&sel(&["37"], &["food"]), None).unwrap()), [0]);
    assert_eq!(
        v(ix.select(&sel(&["3701", "44"], &[]), Some(Ordinal(1)))
            .unwrap()),
        [0, 2]
    );
    assert_eq!(
        ix.select(&sel(&["99"], &[]), None).unwrap_err().desc,
        "unknown areaid: 99"
    );
    assert_eq!(
        ix.select(&sel(&[], &["x"]), None).unwrap_err().desc,
        "unknown enterptypeid: x"
    );
    let explicit = Selection {
        accids: Some(vec![accid("c"), accid("d")]),
        ..Default::default()
    };
    assert_eq!(v(ix.select(&explicit, None).unwrap()), [2]);
    let unknown = Selection {
        accids: Some(vec![accid("zz")]),
        ..Default::default()
    };
    assert_eq!(
        ix.select(&unknown, None).unwrap_err().desc,
        "zz not register"
    );
    // Moving a city to another province moves its users with it.
    ix.set_area_parent("3701", Some("44"));
    assert_eq!(v(ix.select(&sel(&["44"], &[]), None).unwrap()), [0, 1, 2]);
    ix.upsert_account(Ordinal(0), "a", None, Some("food"), false);
    assert_eq!(v(ix.select(&sel(&["44"], &[]), None).unwrap()), [1, 2]);
    assert!(
        !ix.upsert_account(Ordinal(0), "a", Some("nowhere"), None, false),
        "unknown area reported"
    );
}

#[test]
fn dictionaries_follow_the_store() {
    let mut ix = AudienceIndex::new();
    ix.add_area("37", None);
    ix.add_area("3701", Some("37"));
    ix.add_area("old", None);
    ix.add_type("t1");
    ix.upsert_account(Ordinal(0), "a", Some("3701"), Some("t1"), false);
    let area = |id: &str, p: Option<&str>| Area {
        areaid: id.into(),
        name: id.into(),
        parentid: p.map(str::to_owned),
    };
    let t = |id: &str| Enterptype {
        enterptypeid: id.into(),
        name: id.into(),
    };
    // 3701 moved under a new province 44; "old" deleted; a city 4401 added; type t2 added.
    ix.sync_dictionaries(
        &[
            area("37", None),
            area("44", None),
            area("3701", Some("44")),
            area("4401", Some("44")),
        ],
        &[t("t1"), t("t2")],
    );
    let sel = |a: &str| Selection {
        areas: vec![a.into()],
        ..Default::default()
    };
    assert_eq!(
        ix.select(&sel("44"), None)
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        [0]
    );
    assert!(ix.select(&sel("37"), None).unwrap().is_empty());
    assert!(!ix.knows_area("old") && ix.knows_area("4401") && ix.knows_type("t2"));
}

#[test]
fn encoding_round_trips() {
    let b: RoaringBitmap = (0..100_000).chain([5_000_000]).collect();
    let bytes = encode(&b);
    assert!(
        bytes.len() < 100,
        "dense runs compress: {} bytes",
        bytes.len()
    );
    assert_eq!(decode(&bytes).unwrap(), b);
}

/// A plain model of the same data, answered by brute force.
#[derive(Debug, Clone)]
struct Model {
    parents: Vec<Option<usize>>,
    accounts: Vec<(Option<usize>, Option<usize>, bool)>,
    /// Applied after the first build: areas moved under new parents, accounts to new areas.
    area_moves: Vec<(usize, Option<usize>)>,
    account_moves: Vec<(usize, Option<usize>)>,
}

/// Areas, types and list members of one random selection.
type Sel = (Vec<usize>, Vec<usize>, Option<Vec<usize>>);

fn model_strategy() -> impl Strategy<Value = (Model, Vec<Sel>, Option<usize>)> {
    (1usize..12, 1usize..5, 0usize..60).prop_flat_map(|(n_areas, n_types, n_acc)| {
        let parents = (0..n_areas)
            .map(|i| {
                if i == 0 {
                    Just(None).boxed()
                } else {
                    proptest::option::of(0..i).boxed()
                }
            })
            .collect::<Vec<_>>();
        let accounts = proptest::collection::vec(
            (
                proptest::option::of(0..n_areas),
                proptest::option::of(0..n_types),
                proptest::bool::weighted(0.2),
            ),
            n_acc,
        );
        let selection = (
            proptest::collection::vec(0..n_areas, 0..3),
            proptest::collection::vec(0..n_types, 0..3),
            proptest::option::of(proptest::collection::vec(0..n_acc.max(1), 0..8)),
        );
        let area_moves =
            proptest::collection::vec((0..n_areas, proptest::option::of(0..n_areas)), 0..4);
        let account_moves =
            proptest::collection::vec((0..n_acc.max(1), proptest::option::of(0..n_areas)), 0..6);
        (
            parents,
            accounts,
            proptest::collection::vec(selection, 1..6),
            proptest::option::of(0..n_acc.max(1)),
            area_moves,
            account_moves,
        )
            .prop_map(
                |(parents, accounts, sels, exclude, area_moves, account_moves)| {
                    (
                        Model {
                            parents,
                            accounts,
                            area_moves,
                            account_moves,
                        },
                        sels,
                        exclude,
                    )
                },
            )
    })
}

fn within(model: &Model, area: usize, root: usize) -> bool {
    let mut cur = Some(area);
    while let Some(a) = cur {
        if a == root {
            return true;
        }
        cur = model.parents[a];
    }
    false
}

proptest! {
    #[test]
    fn selection_equals_brute_force((mut model, sels, exclude) in model_strategy()) {
        let mut ix = AudienceIndex::new();
        for (i, p) in model.parents.iter().enumerate() {
            ix.add_area(&format!("a{i}"), p.map(|p| format!("a{p}")).as_deref());
        }
        for t in 0..5 {
            ix.add_type(&format!("t{t}"));
        }
        for (o, (area, t, blocked)) in model.accounts.iter().enumerate() {
            let area = area.map(|a| format!("a{a}"));
            let t = t.map(|t| format!("t{t}"));
            ix.upsert_account(Ordinal(o as u32), &format!("u{o}"), area.as_deref(), t.as_deref(), *blocked);
        }
        // Re-parent areas (never under their own subtree: the store refuses that) and move
        // accounts; the rolled-up bitmaps must follow.
        for (i, p) in model.area_moves.clone() {
            if p.is_some_and(|p| within(&model, p, i)) {
                continue;
            }
            model.parents[i] = p;
            ix.set_area_parent(&format!("a{i}"), p.map(|p| format!("a{p}")).as_deref());
        }
        for (o, area) in model.account_moves.clone() {
            let Some(acc) = model.accounts.get_mut(o) else { continue };
            acc.0 = area;
            let (t, blocked) = (acc.1.map(|t| format!("t{t}")), acc.2);
            let area = area.map(|a| format!("a{a}"));
            ix.upsert_account(Ordinal(o as u32), &format!("u{o}"), area.as_deref(), t.as_deref(), blocked);
        }
        let exclude = exclude.filter(|&e| e < model.accounts.len());
        for (areas, types, list) in sels {
            let list = list.map(|l| l.into_iter().filter(|&i| i < model.accounts.len()).collect::<Vec<_>>());
            let sel = Selection {
                accids: list.as_ref().map(|l| l.iter().map(|i| accid(&format!("u{i}"))).collect()),
                areas: areas.iter().map(|a| format!("a{a}")).collect(),
                types: types.iter().map(|t| format!("t{t}")).collect(),
            };
            let got: Vec<u32> = ix.select(&sel, exclude.map(|e| Ordinal(e as u32))).unwrap().iter().collect();
            let want: Vec<u32> = model.accounts.iter().enumerate().filter(|(o, (area, t, blocked))| {
                !blocked
                    && Some(*o) != exclude
                    && list.as_ref().is_none_or(|l| l.contains(o))
                    && (areas.is_empty() || area.is_some_and(|a| areas.iter().any(|&r| within(&model, a, r))))
                    && (types.is_empty() || t.is_some_and(|t| types.contains(&t)))
            }).map(|(o, _)| o as u32).collect();
            prop_assert_eq!(got, want);
        }
    }
}
