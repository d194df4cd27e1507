import { Box, Text } from 'ink';
import type { ReactNode } from 'react';

export interface PanelProps {
  readonly title: string;
  readonly width?: number | string;
  readonly children: ReactNode;
}

/** A bordered box with a title; every panel uses it. */
export function Panel({ title, width, children }: PanelProps) {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={width} flexGrow={width ? 0 : 1}>
      <Text wrap="truncate-end" bold color="cyan">{title}</Text>
      {children}
    </Box>
  );
}
