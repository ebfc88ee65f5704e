//! The seed program (`examples/seed_copy.rs`) run on a real file: both the
//! line-for-line version and the idiomatic one copy it byte for byte, and a
//! missing input is reported as Node would (ENOENT, syscall open).

#[allow(dead_code)]
#[path = "../examples/seed_copy.rs"]
mod seed_copy;

#[test]
fn both_versions_copy_byte_for_byte() {
    let dir = std::env::temp_dir().join(format!("highwater-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let input = dir.join("input.bin");
    // 5 MiB and a bit: several 1 MiB reads and a short last one.
    let data: Vec<u8> = (0..(5 << 20) + 12345)
        .map(|i: usize| (i * 31 % 255) as u8)
        .collect();
    std::fs::write(&input, &data).expect("input");
    for idiomatic in [false, true] {
        let output = dir.join(format!("output-{idiomatic}.bin"));
        let (i, o) = (
            input.to_string_lossy().into_owned(),
            output.to_string_lossy().into_owned(),
        );
        let r = if idiomatic {
            highwater::block_on(seed_copy::idiomatic(i, o))
        } else {
            highwater::block_on(seed_copy::seed(i, o))
        };
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            std::fs::read(&output).expect("output"),
            data,
            "idiomatic = {idiomatic}"
        );
    }
    let missing = dir.join("missing.bin").to_string_lossy().into_owned();
    let r = highwater::block_on(seed_copy::seed(
        missing,
        dir.join("x").to_string_lossy().into_owned(),
    ));
    let e = r.expect_err("a missing input fails");
    assert_eq!((e.code(), e.syscall()), ("ENOENT", Some("open")));
    let _ = std::fs::remove_dir_all(&dir);
}
