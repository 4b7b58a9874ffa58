//! A loopback HTTP/1.1 file server for symbol-server and image-store tests: serves a folder
//! read-only, records every request path, and can be told to fail some paths.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A server on 127.0.0.1 running until the process ends.
#[derive(Debug, Clone)]
pub struct FileServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    /// Serves `root`. A request path containing `fail500` answers 500; anything not a file
    /// under `root` answers 404.
    pub fn serve(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = root.clone();
                let log = Arc::clone(&log);
                std::thread::spawn(move || answer(stream, &root, &log));
            }
        });
        FileServer { url, requests }
    }

    /// Request paths seen so far, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("log").clone()
    }
}

fn answer(mut stream: TcpStream, root: &std::path::Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    // Headers up to the blank line; the body of a GET is empty.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().expect("log").push(path.clone());
    let relative = path.trim_start_matches('/');
    let file = root.join(relative);
    let (status, body) = if path.contains("fail500") {
        ("500 Internal Server Error", b"broken".to_vec())
    } else if relative.split('/').any(|c| c == "..") {
        ("400 Bad Request", Vec::new())
    } else {
        match std::fs::read(&file) {
            Ok(bytes) if file.is_file() => ("200 OK", bytes),
            _ => ("404 Not Found", b"not found".to_vec()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}
