from django.urls import path, re_path

from interactive import (
    certify_views,
    operations_views,
    redcat_views,
    results,
    submission_views,
    views,
    views_bestrefs,
    views_browse,
    views_contexts,
    views_difference,
    views_docs,
)

urlpatterns = [
    path("", views.index, name="index"),
    path("certify/", certify_views.certify_files, name="certify"),
    path("display_result/<str:result_id>", results.display_result, name="display_result"),
    path("authenticated_result/<str:result_id>", results.authenticated_result, name="authenticated_result"),
    path("set_default_context/", operations_views.set_default_context, name="set_default_context"),
    path("mark_bad/", operations_views.mark_bad, name="mark_bad"),
    path("delivery_status/", operations_views.delivery_status, name="delivery_status"),
    path("batch_submit_references/", submission_views.batch_submit_references, name="batch_submit_references"),
    path("submit_confirm/", submission_views.submit_confirm, name="submit_confirm"),
    path("submit_confirm_pipeline/", submission_views.submit_confirm_pipeline, name="submit_confirm_pipeline"),
    path("submission_form/redcat_description.yml", redcat_views.redcat_description, name="redcat_description"),
    path("submission_form/redcat_submit/", redcat_views.redcat_submit, name="redcat_submit"),
    path("submission_form/redcat_list/", redcat_views.redcat_list, name="redcat_list"),
    path("submission_form/<int:submission_id>/", redcat_views.redcat_detail, name="redcat_detail"),
    # Read-only pages (public, server-behaviour.md §15).
    path("browse_db/", views_browse.browse_db, name="browse_db"),
    path("browse/<str:filename>", views_browse.browse_file, name="browse_file"),
    path("browse/<str:filename>/", views_browse.browse_file),
    re_path(r"^browse/(?P<filename>.+)$", views_browse.browse_file),  # bad names get a clear 404
    path("uses/<str:filename>", views_browse.uses, name="uses"),
    path("uses/<str:filename>/", views_browse.uses),
    re_path(r"^uses/(?P<filename>.+)$", views_browse.uses),  # bad names get a clear 404
    path("recent_activity_input/", views_browse.recent_activity_input, name="recent_activity_input"),
    path("recent_activity_query/", views_browse.recent_activity_query, name="recent_activity_query"),
    path("display_context_history/", views_contexts.display_context_history, name="display_context_history"),
    path("display_all_contexts/", views_contexts.display_all_contexts, name="display_all_contexts"),
    path("context_table/<str:mapping>", views_contexts.context_table, name="context_table"),
    path("context_table/<str:mapping>/", views_contexts.context_table),
    re_path(r"^context_table/(?P<mapping>[^/]+)/(?P<index>[^/]+)/?$", views_contexts.context_table_index,
            name="context_table_index"),
    path("difference/", views_difference.difference_input, name="difference_input"),
    path("difference/<str:file1>/<str:file2>/", views_difference.difference_files, name="difference_files"),
    path("bestrefs/", views_bestrefs.bestrefs_index, name="bestrefs"),
    path("bestrefs_explore/", views_bestrefs.bestrefs_explore, name="bestrefs_explore"),
    path("bestrefs_explore_compute/", views_bestrefs.bestrefs_explore_compute, name="bestrefs_explore_compute"),
    path("docs/<str:page_name>/", views_docs.docs, name="docs"),
    re_path(r"^docs/(?P<page_name>.+)/$", views_docs.docs),  # bad names get a clear 404
    path("server_status/", views_docs.server_status, name="server_status"),
]
