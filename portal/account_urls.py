from django.urls import path

from portal import account_views

urlpatterns = [
    path("tokens/", account_views.TokenListView.as_view(), name="account-tokens"),
    path("tokens/all/", account_views.AllTokensView.as_view(), name="account-tokens-all"),
    path("tokens/new/", account_views.TokenCreateView.as_view(), name="account-token-create"),
    path(
        "tokens/<int:token_id>/revoke/",
        account_views.TokenRevokeView.as_view(),
        name="account-token-revoke",
    ),
]
