// The button of a useAction: disabled while any run of the action is in flight, with a spinner
// in place of its icon on the run it started (`runKey`, e.g. the row it belongs to).
import { Button, Spinner, type ButtonProps } from '@fluentui/react-components';
import type { ReactElement } from 'react';
import type { Action } from '../api.js';

export function ActionButton({ action, runKey, icon, disabled, ...props }: ButtonProps & { action: Pick<Action, 'busy' | 'busyKey'>; runKey?: string }): ReactElement {
  const running = action.busy && (runKey === undefined || action.busyKey === runKey);
  return <Button {...props} disabled={disabled === true || action.busy} icon={running ? <Spinner size="tiny" /> : icon} />;
}
