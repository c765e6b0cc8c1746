# ruff: noqa: E501  (translations read best one per line)
"""Korean translations, kept as data so `make translations` can refresh django.po and .mo.

Run: .venv/bin/python scripts/ko_translations.py  (needs GNU gettext for makemessages and
compilemessages; the compiled .mo is committed so running Chatty needs neither).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale/ko/LC_MESSAGES/django.po"

KO = {
    "A message holds at most 4000 characters.": "메시지는 4000자까지 쓸 수 있어요.",
    "No one has that user tag.": "그 태그를 가진 사람이 없어요.",
    "You are already friends.": "이미 친구예요.",
    "That is your own user tag.": "내 태그예요.",
    "%(name)s is now your friend.": "%(name)s 님과 친구가 되었어요.",
    "Pick at least one friend.": "친구를 한 명 이상 고르세요.",
    "Please try again": "다시 시도해 주세요",
    "The form expired or came from another site. Reload the page and send it again.": "양식이 만료되었거나 다른 사이트에서 왔어요. 페이지를 새로 고친 뒤 다시 보내 주세요.",
    "Back to Chatty": "Chatty로 돌아가기",
    "Not found": "찾을 수 없음",
    "This page does not exist": "없는 페이지예요",
    "The link may be old, or the chat may not be yours to see.": "오래된 링크이거나 볼 수 없는 대화예요.",
    "Chat with friends in real time. Add them by tag, talk one-to-one or in groups, never lose a message.": "친구와 실시간으로 대화하세요. 태그로 친구를 추가하고, 1:1이나 그룹으로 이야기하고, 메시지는 절대 잃어버리지 않아요.",
    "Dashboard": "대시보드",
    "Get started": "시작하기",
    "Sign in": "로그인",
    "Sign in to start chatting.": "로그인하고 대화를 시작하세요.",
    "Start with %(name)s": "%(name)s(으)로 시작하기",
    "or": "또는",
    "Username": "사용자 이름",
    "Password": "비밀번호",
    "New here?": "처음이신가요?",
    "Create an account": "계정 만들기",
    "No sign-in method is configured yet. Ask the operator to set up Google or GitHub.": "아직 로그인 방법이 설정되지 않았어요. 운영자에게 Google 또는 GitHub 설정을 요청하세요.",
    "Signing in with a password is turned off here. Use Google or GitHub instead.": "이곳에서는 비밀번호 로그인이 꺼져 있어요. Google 또는 GitHub를 이용하세요.",
    "Skip to content": "본문으로 건너뛰기",
    "Connecting…": "연결 중…",
    "Connected": "연결됨",
    "Offline – reconnecting…": "연결 끊김 – 다시 연결 중…",
    "Sending…": "보내는 중…",
    "Failed – retry": "실패 – 다시 보내기",
    "Copied": "복사했어요",
    "Menu": "메뉴",
    "Friends and chats": "친구와 대화",
    "Friends": "친구",
    "Add friend": "친구 추가",
    "No friends yet. Share your tag or add someone's.": "아직 친구가 없어요. 내 태그를 공유하거나 친구의 태그를 추가하세요.",
    "Chats": "대화",
    "New chat": "새 대화",
    "No chats yet": "아직 대화가 없어요",
    "Add a friend": "친구 추가하기",
    "Their user tag": "친구의 태그",
    "Your tag": "내 태그",
    "Copy": "복사",
    "Close": "닫기",
    "Add": "추가",
    "Start a chat": "대화 시작하기",
    "Pick one friend, or several for a group.": "친구 한 명을 고르거나, 그룹이면 여러 명을 고르세요.",
    "Pick a friend": "친구를 고르세요",
    "1 on 1 chat": "1:1 대화",
    "Group chat with %%(n)s friends": "친구 %%(n)s명과 그룹 대화",
    "Settings": "설정",
    "Status": "상태",
    "Online": "온라인",
    "Away": "자리 비움",
    "Offline": "오프라인",
    "Save status": "상태 저장",
    "Language": "언어",
    "Switch": "바꾸기",
    "Log out": "로그아웃",
    "Log out of Chatty?": "Chatty에서 로그아웃할까요?",
    "Cancel": "취소",
    "Hello, %(name)s": "안녕하세요, %(name)s 님",
    "Pick a chat on the left, or start a new one with your friends.": "왼쪽에서 대화를 고르거나 친구와 새 대화를 시작하세요.",
    "Add a friend by tag": "태그로 친구 추가",
    "Start": "시작",
    "No messages yet": "아직 메시지가 없어요",
    "Older messages": "이전 메시지",
    "This is the beginning of the chat.": "대화의 시작이에요.",
    "%(name)s added you as a friend": "%(name)s 님이 나를 친구로 추가했어요",
    "New chat: %(title)s": "새 대화: %(title)s",
    "This message was deleted.": "삭제된 메시지예요.",
    "%(name)s is typing…": "%(name)s 님이 입력 중…",
    "Participants": "참여자",
    "me": "나",
    "Created by %(name)s on %(date)s": "%(date)s에 %(name)s 님이 만든 대화",
    "Created on %(date)s": "%(date)s에 만든 대화",
    "Messages": "메시지",
    "New messages": "새 메시지",
    "Message": "메시지",
    "Write a message…": "메시지를 입력하세요…",
    "Enter sends, Shift+Enter starts a new line.": "Enter로 보내고, Shift+Enter로 줄을 바꿔요.",
    "Send": "보내기",
}
KO_PLURAL = {
    "%(n)s unread message": ["읽지 않은 메시지 %(n)s개"],
}


def main() -> int:
    import polib

    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ko",
            "--ignore=.venv",
            "--ignore=tests",
            "--ignore=bench",
            "--no-obsolete",
            "-v0",
        ],
        cwd=ROOT,
        check=True,
    )
    po = polib.pofile(str(PO))
    po.metadata.update({"Project-Id-Version": "Chatty", "Language": "ko", "Language-Team": "Korean"})
    missing = []
    for entry in po:
        if entry.msgid_plural:
            forms = KO_PLURAL.get(entry.msgid)
            if forms:
                entry.msgstr_plural = dict(enumerate(forms))
            else:
                missing.append(entry.msgid)
        elif entry.msgid in KO:
            entry.msgstr = KO[entry.msgid]
        elif not entry.msgstr:
            missing.append(entry.msgid)
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save()
    subprocess.run([sys.executable, "manage.py", "compilemessages", "-l", "ko", "-v0"], cwd=ROOT, check=True)
    for msgid in missing:
        print("untranslated:", msgid)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
