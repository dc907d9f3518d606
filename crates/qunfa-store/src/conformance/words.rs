use qunfa_core::store::Store;

pub async fn keyword_lists_are_per_app(s: &dyn Store) {
    let a = s.create_app("a").await.unwrap().id;
    let b = s.create_app("b").await.unwrap().id;
    assert!(s.words(a).await.unwrap().is_empty());
    s.set_words(a, vec!["赌博".into(), "spam".into()])
        .await
        .unwrap();
    s.set_words(a, vec!["赌博".into()]).await.unwrap();
    assert_eq!(s.words(a).await.unwrap(), ["赌博"]);
    assert!(s.words(b).await.unwrap().is_empty());
}
