from django.contrib import admin
from django.urls import include, path, re_path

from accounts import api as accounts_api
from accounts import views as accounts_views
from chatty.api import api_not_found
from chatty.health import healthz
from friends import api as friends_api
from friends import views as friends_views
from presence import views as presence_views

api_patterns = [
    path("auth/check-auth", accounts_api.check_auth, name="api-check-auth"),
    path("auth/logout", accounts_api.logout_view, name="api-logout"),
    path("auth/logout-everywhere", accounts_api.logout_everywhere, name="api-logout-everywhere"),
    path("auth/token", accounts_api.token, name="api-token"),
    path("user", accounts_api.me, name="api-user"),
    re_path(r"^auth/(?P<provider>google|github)$", accounts_api.provider_redirect, name="api-auth-provider"),
    path("friend", friends_api.friend_list, name="api-friends"),
    path("friend/add-friend", friends_api.add_friend, name="api-add-friend"),
    path("friend/delete-friend", friends_api.delete_friend, name="api-delete-friend"),
    path("friend/block", friends_api.block, name="api-block"),
    path("friend/unblock", friends_api.unblock, name="api-unblock"),
    path("friend/blocked", friends_api.blocked, name="api-blocked"),
    path("chat/", include("chats.urls_api")),
    re_path(r"^.*$", api_not_found),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", accounts_views.landing, name="landing"),
    path("login", accounts_views.login_page, name="login"),
    path("accounts/login/", accounts_views.account_login, name="account-login-page"),
    path("accounts/logout-everywhere/", accounts_views.logout_everywhere, name="logout-everywhere"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("dashboard/status", presence_views.set_status, name="set-status"),
    path("dashboard/settings", presence_views.settings_page, name="settings"),
    path("dashboard/block", friends_views.block, name="block"),
    path("dashboard/unblock", friends_views.unblock, name="unblock"),
    path("", include("chats.urls")),
]

handler404 = "chatty.views.not_found"
handler500 = "chatty.views.server_error"
