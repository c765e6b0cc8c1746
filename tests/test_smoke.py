def test_login_page_renders(client, db):
    response = client.get("/login")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Start with Google" in body and "Start with GitHub" in body
