"""A C/S chat client written the way the original course project wrote its GUI client's network
part: one message per socket.send with no terminator, answers read with recv(512), fields split
on '|'. Run by tests/chat_door.rs against a real server; exits non-zero on the first surprise.

usage: chat_client.py CHAT_PORT
"""
import socket
import sys
import time

SERVER_IP = "127.0.0.1"
REQUEST_LOGIN = "0001"
REQUEST_CHAT = "0002"
RESPONSE_LOGIN_RESULT = "1001"
RESPONSE_CHAT = "1002"
DELIMITER = "|"


def connect(port):
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((SERVER_IP, port))
    client.settimeout(5)
    return client


def send(client, *fields):
    client.send(DELIMITER.join(fields).encode("utf-8"))


def recv(client):
    return client.recv(512).decode("utf-8")


def login(port, username, password):
    client = connect(port)
    send(client, REQUEST_LOGIN, username, password)
    answer = recv(client).split(DELIMITER)
    return client, answer


def expect(what, got, wanted):
    if got != wanted:
        print(f"{what}: expected {wanted!r}, got {got!r}")
        sys.exit(1)


def main():
    port = int(sys.argv[1])
    _, refused = login(port, "user1", "wrong")
    expect("a wrong password", refused, [RESPONSE_LOGIN_RESULT, "0", "", ""])

    john, answer = login(port, "user1", "111111")
    expect("john's login", answer, [RESPONSE_LOGIN_RESULT, "1", "itcast1", "user1"])
    edward, answer = login(port, "user2", "111111")
    expect("edward's login", answer, [RESPONSE_LOGIN_RESULT, "1", "user2", "user2"])
    time.sleep(0.2)

    send(john, REQUEST_CHAT, "user1", "hello | everyone, 你好")
    expect("edward hears john", recv(edward).split(DELIMITER, 2), [RESPONSE_CHAT, "itcast1", "hello | everyone, 你好"])
    # A chat naming another user is refused: nothing reaches anyone.
    send(edward, REQUEST_CHAT, "user1", "I am john")
    time.sleep(0.2)
    send(edward, REQUEST_CHAT, "user2", "hi john")
    expect("john hears edward only as edward", recv(john), "1002|user2|hi john")
    # The sender does not get its own message back.
    john.settimeout(0.5)
    try:
        extra = recv(john)
        print(f"john got more than edward's message: {extra!r}")
        sys.exit(1)
    except socket.timeout:
        pass
    john.close()
    edward.close()
    print("all good")


main()
