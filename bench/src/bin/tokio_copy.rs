//! What a tokio user would write: `tokio::fs` files and `tokio::io::copy`.
//!
//! `tokio_copy IN OUT`

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst] = args.as_slice() else {
        eprintln!("usage: tokio_copy IN OUT");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut input = tokio::fs::File::open(src).await?;
        let mut output = tokio::fs::File::create(dst).await?;
        tokio::io::copy(&mut input, &mut output).await?;
        Ok(())
    })
}
