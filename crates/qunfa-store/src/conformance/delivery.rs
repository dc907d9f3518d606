use qunfa_core::audience;
use qunfa_core::ids::{MsgId, Ordinal};
use qunfa_core::store::Store;

use super::acc;

pub async fn cursors_and_readers_are_kept_compactly(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    s.create_accounts(
        app,
        vec![
            acc("u0", None, None),
            acc("u1", None, None),
            acc("u2", None, None),
        ],
    )
    .await
    .unwrap();
    let o = Ordinal;
    let m = MsgId;
    s.save_cursors(app, vec![(o(0), m(10)), (o(1), m(5))])
        .await
        .unwrap();
    s.save_cursors(app, vec![(o(0), m(7)), (o(2), m(12))])
        .await
        .unwrap();
    let mut d = s.delivered(app, m(8)).await.unwrap();
    d.sort();
    assert_eq!(d, [o(0), o(2)], "a lower cursor never moves one back");
    assert_eq!(
        s.delivered(app, m(13)).await.unwrap(),
        Vec::<Ordinal>::new()
    );
    assert_eq!(s.readers(app, m(10)).await.unwrap(), None);
    let bits = |v: &[u32]| audience::encode(&v.iter().copied().collect());
    s.add_reads(app, vec![(m(10), bits(&[0]))]).await.unwrap();
    s.add_reads(app, vec![(m(10), bits(&[2])), (m(11), bits(&[1]))])
        .await
        .unwrap();
    let r = audience::decode(&s.readers(app, m(10)).await.unwrap().unwrap()).unwrap();
    assert_eq!(r.iter().collect::<Vec<_>>(), [0, 2]);
    let r = audience::decode(&s.readers(app, m(11)).await.unwrap().unwrap()).unwrap();
    assert_eq!(r.iter().collect::<Vec<_>>(), [1]);
}

pub async fn cursors_from_answers_each_cursor_at_or_past_a_msgid(s: &dyn Store) {
    let app = s.create_app("a").await.unwrap().id;
    let other = s.create_app("b").await.unwrap().id;
    let accounts = (0..4).map(|i| acc(&format!("u{i}"), None, None)).collect();
    s.create_accounts(app, accounts).await.unwrap();
    s.create_accounts(other, vec![acc("x", None, None)])
        .await
        .unwrap();
    let o = Ordinal;
    let m = MsgId;
    s.save_cursors(app, vec![(o(0), m(10)), (o(1), m(5)), (o(2), m(12))])
        .await
        .unwrap();
    s.save_cursors(app, vec![(o(1), m(8)), (o(2), m(3))])
        .await
        .unwrap();
    s.save_cursors(other, vec![(o(0), m(100))]).await.unwrap();
    let mut got = s.cursors_from(app, m(8)).await.unwrap();
    got.sort();
    assert_eq!(got, [(o(0), m(10)), (o(1), m(8)), (o(2), m(12))]);
    let mut got = s.cursors_from(app, m(11)).await.unwrap();
    got.sort();
    assert_eq!(got, [(o(2), m(12))]);
    assert!(s.cursors_from(app, m(13)).await.unwrap().is_empty());
}
