//! A TCP echo server, each connection piped into itself, and a client.
//!
//! ```text
//! cargo run --example tcp_echo                    # server and client in one process, on loopback
//! cargo run --example tcp_echo -- server 127.0.0.1:7000
//! cargo run --example tcp_echo -- client 127.0.0.1:7000 "some text"
//! ```
//!
//! The server's side of a connection is a Socket, a byte duplex stream; `socket.pipe(socket)`
//! writes whatever it reads back to it, with pipe's backpressure: when the
//! client does not read its echo, the server's writes stop completing, its
//! buffer fills, pipe pauses the reading, and TCP's flow control holds the
//! client back in turn. The client's FIN ends the pipe, which ends the
//! server's side, which the client reads as the end of the echo.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use highwater::net::{connect, Server, ServerOptions, SocketOptions};
use highwater::prelude::*;
use highwater::Error;

/// Starts the echo server on `addr`; returns the bound address.
async fn serve(addr: &str) -> Result<(Server, std::net::SocketAddr), Error> {
    let server = Server::new(ServerOptions::default());
    server.on_connection(|socket| {
        let peer = socket.remote_addr();
        eprintln!("server: connection from {peer:?}");
        socket.pipe(socket);
        let s = socket.clone();
        socket.on_close(move || {
            eprintln!(
                "server: {peer:?} closed after {} bytes in, {} out",
                s.bytes_read(),
                s.bytes_written()
            );
        });
    });
    server.on_error(|e| eprintln!("server: {e}"));
    let bound = server.listen_async(addr).await?;
    Ok((server, bound))
}

/// Sends `text` to the echo server at `addr` and returns what came back.
async fn client(addr: String, text: String) -> Result<Vec<u8>, Error> {
    let socket = connect(addr, SocketOptions::default());
    socket.on_connect(|| eprintln!("client: connected"));
    let echoed = Rc::new(RefCell::new(Vec::new()));
    let e = echoed.clone();
    socket.on_data(move |chunk| e.borrow_mut().extend_from_slice(chunk));
    // Written before the connection is up: buffered, then sent.
    socket.write_async(Bytes::from(text)).await?;
    socket.end();
    // 'end' (the server's FIN), then 'close'.
    highwater::finished_async(&socket).await?;
    let out = echoed.borrow().clone();
    Ok(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = highwater::block_on(async move {
        match args.as_slice() {
            [mode, addr] if mode == "server" => {
                let (_server, bound) = serve(addr).await?;
                eprintln!("server: listening on {bound} (Ctrl-C to stop)");
                std::future::pending::<()>().await;
                Ok(())
            }
            [mode, addr, text] if mode == "client" => {
                let back = client(addr.clone(), text.clone()).await?;
                println!("{}", String::from_utf8_lossy(&back));
                Ok(())
            }
            [] => {
                let (server, bound) = serve("127.0.0.1:0").await?;
                eprintln!("server: listening on {bound}");
                let text = "hello, echo\n".repeat(10_000);
                let back = client(bound.to_string(), text.clone()).await?;
                println!(
                    "client: sent {} bytes, got {} back, identical: {}",
                    text.len(),
                    back.len(),
                    back == text.as_bytes()
                );
                server.close();
                Ok(())
            }
            _ => Err(Error::msg(
                "usage: tcp_echo [server ADDR | client ADDR TEXT]",
            )),
        }
    });
    if let Err(e) = result {
        eprintln!("tcp_echo: {e}");
        std::process::exit(1);
    }
}
