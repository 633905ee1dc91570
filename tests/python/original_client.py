"""A client written the way the original Python course projects wrote theirs: struct 'i' header,
JSON dicts, the hex MD5 of the password, raw file bytes after the frame. Run by
tests/python_client.rs against a real server; exits non-zero on the first surprise.

usage: original_client.py YOUKU_PORT NETDISK_PORT
"""
import hashlib
import json
import socket
import struct
import sys


def send_data(client, dic, file_bytes=None):
    body = json.dumps(dic).encode("utf-8")
    client.send(struct.pack("i", len(body)))
    client.send(body)
    if file_bytes is not None:
        client.sendall(file_bytes)


def recv_exact(client, n):
    data = b""
    while len(data) < n:
        chunk = client.recv(n - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def recv_data(client):
    length = struct.unpack("i", recv_exact(client, 4))[0]
    return json.loads(recv_exact(client, length).decode("utf-8"))


def get_md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def expect(condition, what):
    if not condition:
        print("FAILED:", what)
        sys.exit(1)


def youku(port):
    admin = socket.create_connection(("127.0.0.1", port))
    send_data(admin, {"type": "register", "name": "tank", "password": get_md5("123"), "user_type": "admin"})
    expect(recv_data(admin)["flag"], "admin register")
    send_data(admin, {"type": "login", "name": "tank", "password": get_md5("123"), "user_type": "admin"})
    back = recv_data(admin)
    expect(back["flag"] and back["user_type"] == "admin", "admin login: %r" % back)
    session = back["session"]

    movie = b"an original python movie " * 1000
    file_md5 = hashlib.md5(movie).hexdigest()
    send_data(admin, {"type": "check_movie", "session": session, "file_md5": file_md5})
    expect(recv_data(admin)["flag"], "check_movie")
    send_data(admin, {"type": "upload_movie", "session": session, "file_name": "python.mp4",
                      "file_size": len(movie), "file_md5": file_md5, "is_free": 1}, movie)
    back = recv_data(admin)
    expect(back["flag"], "upload_movie: %r" % back)
    send_data(admin, {"type": "release_notice", "session": session, "title": "hi", "content": "from python"})
    expect(recv_data(admin)["flag"], "release_notice")

    user = socket.create_connection(("127.0.0.1", port))
    send_data(user, {"type": "register", "name": "egon", "password": get_md5("456"), "user_type": "user"})
    expect(recv_data(user)["flag"], "user register")
    send_data(user, {"type": "login", "name": "egon", "password": get_md5("456"), "user_type": "user"})
    session = recv_data(user)["session"]
    send_data(user, {"type": "buy_vip", "session": session})
    expect(recv_data(user)["is_vip"] == 1, "buy_vip")
    send_data(user, {"type": "get_movie_list", "session": session, "movie_type": "free"})
    back = recv_data(user)
    expect(back["flag"] and back["movie_list"][0][0] == "python.mp4", "get_movie_list: %r" % back)
    movie_id = back["movie_list"][0][2]
    send_data(user, {"type": "download_movie", "session": session, "movie_id": movie_id, "movie_type": "free"})
    back = recv_data(user)
    data = recv_exact(user, back["file_size"])
    expect(hashlib.md5(data).hexdigest() == back["file_md5"] == file_md5, "download_movie content")
    send_data(user, {"type": "check_download_record", "session": session})
    expect(recv_data(user)["record_list"][0]["movie"] == "python.mp4", "check_download_record")
    send_data(user, {"type": "check_notice", "session": session})
    expect(recv_data(user)["notice_list"][0]["content"] == "from python", "check_notice")
    send_data(user, {"type": "no_such_thing", "session": session})
    expect(recv_data(user)["code"] == "bad_request", "unknown type")


def netdisk(port):
    client = socket.create_connection(("127.0.0.1", port))
    send_data(client, {"api": "register", "data": {"username": "cmd", "password": get_md5("pw"),
                                                   "real_name": "C", "phone": "1", "address": "A"}})
    expect(recv_data(client)["code"] == 1, "netdisk register")
    send_data(client, {"api": "login", "data": {"username": "cmd", "password": get_md5("pw")}})
    expect(recv_data(client)["code"] == 1, "netdisk login")
    content = b"netdisk bytes" * 100
    send_data(client, {"api": "upload", "data": {"username": "cmd", "file_name": "a.txt", "file_size": len(content)}})
    expect(recv_data(client)["code"] == 99999, "upload go-ahead")
    client.sendall(content)
    expect(recv_data(client)["code"] == 1, "upload done")
    send_data(client, {"api": "check", "data": {"username": "cmd"}})
    files = recv_data(client)["data"]
    expect(files == [{"name": "a.txt", "size": len(content)}], "check: %r" % files)
    send_data(client, {"api": "download", "data": {"username": "cmd", "file_name": "a.txt", "file_size": len(content)}})
    expect(recv_data(client)["code"] == 99999, "download go-ahead")
    expect(recv_exact(client, len(content)) == content, "download content")
    send_data(client, {"ok": True})
    expect(recv_data(client)["code"] == 1, "download done")


if __name__ == "__main__":
    youku(int(sys.argv[1]))
    netdisk(int(sys.argv[2]))
    print("original-style Python client: all good")
