//! What a tokio user would write to move a file over TCP: `tokio::fs` files,
//! a `TcpStream`, and `tokio::io::copy` (or, with `--buf`, `copy_buf` over
//! a 1 MiB `BufReader`, so that each file read is one large blocking call).
//! The twin of `highwater send` / `highwater recv`, same calling convention:
//!
//! ```text
//! tokio_net [--buf] recv HOST:PORT OUT   # prints "listening on ADDR" on stderr, takes one connection
//! tokio_net [--buf] send HOST:PORT IN
//! ```

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const BUF: usize = 1 << 20;

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let buffered = args.first().is_some_and(|a| a == "--buf");
    if buffered {
        args.remove(0);
    }
    let [mode, addr, path] = args.as_slice() else {
        eprintln!("usage: tokio_net [--buf] recv|send HOST:PORT FILE");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match mode.as_str() {
            "recv" => {
                let listener = TcpListener::bind(addr.as_str()).await?;
                eprintln!("listening on {}", listener.local_addr()?);
                let (sock, _) = listener.accept().await?;
                drop(listener);
                let mut file = tokio::fs::File::create(path).await?;
                if buffered {
                    tokio::io::copy_buf(&mut BufReader::with_capacity(BUF, sock), &mut file)
                        .await?;
                } else {
                    let mut sock = sock;
                    tokio::io::copy(&mut sock, &mut file).await?;
                }
                file.flush().await?;
                Ok(())
            }
            "send" => {
                let mut sock = TcpStream::connect(addr.as_str()).await?;
                let file = tokio::fs::File::open(path).await?;
                if buffered {
                    tokio::io::copy_buf(&mut BufReader::with_capacity(BUF, file), &mut sock)
                        .await?;
                } else {
                    let mut file = file;
                    tokio::io::copy(&mut file, &mut sock).await?;
                }
                sock.shutdown().await?;
                Ok(())
            }
            other => Err(std::io::Error::other(format!("unknown mode {other}"))),
        }
    })
}
