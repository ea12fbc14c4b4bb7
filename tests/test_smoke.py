def test_settings_load_and_migrations_apply(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(email="a@example.com", password="x")
    assert user.pk is not None
