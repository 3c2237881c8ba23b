/* tether-window.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-window.h"

struct _TetherWindow
{
  AdwApplicationWindow  parent_instance;

  GCancellable         *cancellable;

  /* Template widgets */
  AdwToastOverlay      *toast_overlay;
  GtkStack             *main_stack;
  AdwStatusPage        *empty_page;
  GtkButton            *sync_button;
};

G_DEFINE_FINAL_TYPE (TetherWindow, tether_window, ADW_TYPE_APPLICATION_WINDOW)

TetherWindow *
tether_window_new (TetherApplication *application)
{
  return g_object_new (TETHER_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

static void
tether_window_add_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
}

static void
tether_window_sync_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
}

static void
tether_window_dispose (GObject *object)
{
  TetherWindow *self = (TetherWindow *)object;

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_WINDOW);

  G_OBJECT_CLASS (tether_window_parent_class)->dispose (object);
}

static void
tether_window_finalize (GObject *object)
{
  TetherWindow *self = (TetherWindow *)object;

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (tether_window_parent_class)->finalize (object);
}

static void
tether_window_class_init (TetherWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_window_dispose;
  object_class->finalize = tether_window_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/tether-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, sync_button);

  gtk_widget_class_install_action (widget_class, "win.add", NULL, tether_window_add_action);
  gtk_widget_class_install_action (widget_class, "win.sync", NULL, tether_window_sync_action);
}

static void
tether_window_init (TetherWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();

  if (DEVELOPMENT_BUILD)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}
