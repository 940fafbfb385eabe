// In-window notifications (Fluent toasts). Issue 6 extends this into the notification centre.
import { Toast, ToastBody, ToastTitle, Toaster, useToastController } from '@fluentui/react-components';
import { useCallback, type ReactElement } from 'react';

export const TOASTER_ID = 'coffer-toaster';

export function AppToaster(): ReactElement {
  return <Toaster toasterId={TOASTER_ID} position="top-end" pauseOnHover pauseOnWindowBlur />;
}

export type NotifyIntent = 'success' | 'info' | 'warning' | 'error';

export function useNotify(): (intent: NotifyIntent, title: string, body?: string) => void {
  const { dispatchToast } = useToastController(TOASTER_ID);
  return useCallback(
    (intent, title, body) =>
      dispatchToast(
        <Toast>
          <ToastTitle>{title}</ToastTitle>
          {body && <ToastBody>{body}</ToastBody>}
        </Toast>,
        { intent, timeout: intent === 'error' ? 10000 : 5000 },
      ),
    [dispatchToast],
  );
}
