"""The user model: the userTag is generated once, readable, and unique regardless of case."""

from __future__ import annotations

import itertools
import re
import secrets
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User


@pytest.fixture
def predictable_tags(monkeypatch):
    """Make the random part of tags a known sequence, so collisions happen on purpose.

    Every thread's first draw gives the same number; later draws give fresh ones.
    """
    local = threading.local()
    fresh = itertools.count(1)
    lock = threading.Lock()

    def randbelow(n: int) -> int:
        if not getattr(local, "drawn", False):
            local.drawn = True
            return 4242
        with lock:
            return next(fresh)

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    return local


@pytest.mark.django_db
def test_tag_is_generated_at_creation_and_readable(make_user):
    user = make_user("Min-su Kim")
    assert re.fullmatch(r"minsukim#\d{6}", user.user_tag)
    assert User.objects.get(pk=user.pk).user_tag == user.user_tag


@pytest.mark.django_db
def test_tag_of_a_name_without_latin_letters_reads_like_the_name(make_user):
    assert re.fullmatch(r"minsu#\d{6}", make_user("민수").user_tag)
    assert re.fullmatch(r"gimminsu#\d{6}", make_user("김 민수").user_tag)  # Revised Romanisation
    assert re.fullmatch(r"dmitriy#\d{6}", make_user("Дмитрий").user_tag)
    assert re.fullmatch(r"jose#\d{6}", make_user("José").user_tag)
    assert re.fullmatch(r"user#\d{6}", make_user("!!!").user_tag)


@pytest.mark.django_db
def test_tag_comes_from_the_username_when_there_is_no_name():
    user = User.objects.create_user(username="Zed_99", password="pw-for-tests-123")
    assert re.fullmatch(r"zed99#\d{6}", user.user_tag)


@pytest.mark.django_db
def test_tag_does_not_change_on_save(make_user):
    user = make_user("Alice")
    tag = user.user_tag
    user.name = "Alicia"
    user.save()
    user.save(update_fields=["name"])
    user.refresh_from_db()
    assert user.user_tag == tag
    assert user.name == "Alicia"


@pytest.mark.django_db
def test_tag_is_unique_regardless_of_case_in_the_database(make_user):
    alice = make_user("Alice")
    bob = make_user("Bob")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=bob.pk).update(user_tag=alice.user_tag.upper())


@pytest.mark.django_db
def test_inserting_a_row_with_a_tag_in_other_case_fails(make_user):
    alice = make_user("Alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        # bulk_create skips save(): nothing of ours runs, only the database's constraint.
        User.objects.bulk_create([User(username="other", user_tag=alice.user_tag.upper())])


@pytest.mark.django_db
def test_a_taken_tag_is_retried(make_user, predictable_tags):
    first = make_user("Sam")
    assert first.user_tag == "sam#004242"
    predictable_tags.drawn = False  # the next user draws the same number first
    second = make_user("Sam")
    assert second.user_tag.startswith("sam#")
    assert second.user_tag != first.user_tag
    assert User.objects.filter(user_tag__iexact="sam#004242").count() == 1


@pytest.mark.django_db
def test_a_taken_tag_in_a_users_transaction_does_not_break_it(make_user, predictable_tags):
    """The retry happens in a savepoint: the caller's transaction goes on."""
    make_user("Sam")
    predictable_tags.drawn = False
    with transaction.atomic():
        second = make_user("Sam")
        assert User.objects.filter(pk=second.pk).exists()
    assert User.objects.filter(name="Sam").count() == 2


@pytest.mark.django_db
def test_a_duplicate_username_is_an_error_not_a_tag_retry(make_user):
    make_user("Tag Taggart", username="tagger")
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make_user("Tag Taggart", username="tagger")
    assert "free user tag" not in str(caught.value)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("tags", ["random", "colliding"])
def test_concurrent_users_with_the_same_name_get_distinct_tags(request, tags):
    if tags == "colliding":
        request.getfixturevalue("predictable_tags")
    count = 4
    barrier = threading.Barrier(count)
    made: list[User] = []
    errors: list[BaseException] = []

    def create(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            user = User(username=f"twin{i}", name="Twin")
            user.set_password("pw-for-tests-123")
            user.save()
            made.append(user)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    stored = list(User.objects.filter(name="Twin").values_list("user_tag", flat=True))
    assert len(stored) == count
    assert len({t.lower() for t in stored}) == count
    assert sorted(stored) == sorted(u.user_tag for u in made)
    if tags == "colliding":
        assert "twin#004242" in stored


@pytest.mark.django_db
def test_pictures_load_only_from_the_providers_avatar_hosts_or_this_site(make_user, api):
    allowed = [
        "https://lh3.googleusercontent.com/a/ada",
        "https://avatars.githubusercontent.com/u/583231?v=4",
        "/media/avatars/7.png",
    ]
    refused = [
        "https://tracker.example.net/pixel.png?who=alice",
        "http://avatars.githubusercontent.com/u/1",  # not https
        "https://avatars.githubusercontent.com.evil.example/u/1",
        "https://user:pw@avatars.githubusercontent.com/u/1",
        "//tracker.example.net/p.png",
        "javascript:alert(1)",
    ]
    for picture in allowed:
        assert api(make_user("Ann", picture=picture)).get("/api/user").json()["picture"] == picture
    for picture in refused:
        assert api(make_user("Ann", picture=picture)).get("/api/user").json()["picture"] == "", picture
